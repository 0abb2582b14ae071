/**
 * Credentials out of text we keep for diagnosis: the output tail of a hook (renewal records,
 * `/status`, logs). Hooks are scripts around DNS APIs and curl; with `set -x` or a verbose client
 * they print the very headers and variables that authenticate them. The text stays (it is why
 * the hook failed); only the values after well-known credential markers go.
 */

export const REDACTED = '<redacted>';

// The key part of `name=value` / `name: value`: any name ending in one of these words
// (AWS_SECRET_ACCESS_KEY, X-Api-Key, db_password, access_token …).
const KEY_WORDS = 'password|passwd|pass|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth[_-]?key';

const RULES: readonly [RegExp, (...m: string[]) => string][] = [
  // Authorization / Proxy-Authorization headers: the whole value, whatever the scheme.
  [/\b((?:proxy-)?authorization)(\s*[:=]\s*)([^\r\n]*)/gi, (_m, k, sep) => `${k}${sep}${REDACTED}`],
  // A bearer or basic credential elsewhere (curl -H "…", JSON, a URL-less log line).
  [/\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, (_m, k, sep) => `${k}${sep}${REDACTED}`],
  // name=value, name: value, "name": "value" (quoted values up to the closing quote).
  [new RegExp(`([A-Za-z0-9_.-]*(?:${KEY_WORDS}))(["']?\\s*[=:]\\s*)("[^"\\r\\n]*"|'[^'\\r\\n]*'|[^\\s&;,"'<>]+)`, 'gi'),
    (_m, k, sep, v) => `${k}${sep}${v.startsWith('"') ? `"${REDACTED}"` : v.startsWith("'") ? `'${REDACTED}'` : REDACTED}`],
  // Userinfo in URLs: https://user:password@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, (_m, head) => `${head}${REDACTED}@`],
];

/** `text` with credential values replaced by "<redacted>"; everything else is kept. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, to] of RULES) out = out.replace(re, to as (...m: string[]) => string);
  return out;
}
