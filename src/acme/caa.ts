/**
 * CAA preflight (RFC 8659): before an order, read the CAA records the CA will read and tell
 * whether this CA may issue for each name. A CA refuses with a CAA error only after the order and
 * its authorizations exist, so a forbidden name found here costs nothing at the CA.
 *
 * The relevant RRset (RFC 8659 §3): ask CAA at the name; if there is none, at its parent, and so
 * on up to (not including) the root; the first non-empty answer is the relevant one. CNAMEs are
 * followed by the resolver: asking CAA for an alias returns the CAA records of its target (node's
 * resolveCaa gives them, the CNAME itself left out). When the target has none, the climb goes on
 * from the alias's parent, not the target's (RFC 8659 dropped RFC 6844's climb under the target).
 * A wildcard `*.example.com` starts at `example.com` and is judged by `issuewild` when the
 * relevant set has any, else by `issue` (§4.3).
 *
 * Decisions, for the operator to know:
 * - A lookup that fails (SERVFAIL, REFUSED, no answer) marks the name `lookup-failed`, not
 *   allowed, as a CA must read it (§3). The order flow treats it as inconclusive: this machine's
 *   resolver is not the CA's (service/caa-check.ts). NXDOMAIN and NODATA are answers ("no CAA
 *   here"), not failures.
 * - A CA whose directory lists no `meta.caaIdentities` (Pebble, some private CAs) cannot be matched
 *   against `issue` records: the name is allowed with a message saying we could not tell, and the
 *   CA decides. What needs no identity is still enforced: `0 issue ";"` and a critical unknown
 *   property forbid every CA.
 * - The parameters after `;` (RFC 8657 accounturi, validationmethods) are parsed but not
 *   enforced: they depend on the account and the challenge, which the CA checks anyway.
 * - IP address identifiers have no CAA (RFC 8738 §7): always allowed.
 */
import type { Resolver } from 'node:dns/promises';
import { budgetedResolver } from '../lib/dns-resolver.js';
import { memoizeAsync } from '../lib/memo.js';
import { isIP } from 'node:net';
import { errorMessage, ValidationError } from '../core/errors.js';
import { normalizeDomainName } from '../core/names.js';
import { dnsErrorText } from './solvers/http-preflight.js';

/** One CAA resource record; `tag` lower-cased (tags match case-insensitively, §4.1). */
export interface CaaRecord {
  flags: number;
  tag: string;
  value: string;
}

/** Records of one name: NODATA and NXDOMAIN give []; a failed lookup throws (never read as "no CAA"). */
export type CaaLookup = (name: string) => Promise<CaaRecord[]>;

/** The relevant RRset: `domain` is the name the records were found at (the name or an ancestor). */
export interface RelevantCaa {
  domain: string;
  records: CaaRecord[];
}

/** A lookup that could not get an answer; the message names the name and the DNS server asked. */
export class CaaLookupError extends Error {
  override readonly name = 'CaaLookupError';
  constructor(
    message: string,
    /** The name whose CAA was asked. */
    readonly queried: string,
    /** The node:dns error code (ESERVFAIL, ETIMEOUT, …) when there is one. */
    readonly code: string | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** Critical-flag bit of the flags octet (§4.1). */
const CRITICAL = 128;
/**
 * Tags whose meaning we know, so a critical flag on them does not stop issuance. issuemail and
 * issuevmc (RFC 9495, the VMC ballot) and the CA/B Forum's contact tags concern no TLS certificate.
 */
const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'issuemail', 'issuevmc', 'contactemail', 'contactphone']);
/** RFC 8659 §4.2 label: letters and digits, hyphens inside. */
const LABEL = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const ISSUER_DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const PARAMETER = new RegExp(`^(${LABEL})[ \\t]*=[ \\t]*([\\x21-\\x3a\\x3c-\\x7e]*)$`);

// ---------------------------------------------------------------------------------------------
// Lookup

/** The name whose CAA the climb starts from: `*.` stripped, lower case, A-labels, no trailing dot. */
function startName(name: string): { start: string; wildcard: boolean } {
  const normalized = normalizeDomainName(name, { allowWildcard: true, minLabels: 1, label: 'CAA name' });
  return normalized.startsWith('*.') ? { start: normalized.slice(2), wildcard: true } : { start: normalized, wildcard: false };
}

/**
 * The relevant CAA RRset of `name` (§3), or null when neither it nor any ancestor below the root
 * has CAA records. A lookup failure propagates: "no answer" is not "no CAA".
 */
export async function findRelevantCaa(name: string, lookup: CaaLookup): Promise<RelevantCaa | null> {
  const { start } = startName(name);
  const labels = start.split('.');
  for (let i = 0; i < labels.length; i++) {
    const domain = labels.slice(i).join('.');
    const records = await lookup(domain);
    if (records.length > 0) return { domain, records };
  }
  return null;
}

export interface CaaLookupOptions {
  /** DNS server "host:port" (acme.preflight.resolver); default the system's DNS servers. */
  resolver?: string;
  /** Budget of one lookup, both tries included. */
  timeoutMs: number;
  /** Aborting cancels the lookups in flight; they reject with its reason (the caller cancelled). */
  signal?: AbortSignal;
}

/**
 * The CaaLookup of node:dns (c-ares): asks `resolver`, or the servers of /etc/resolv.conf. Throws
 * a ValidationError at once for a resolver spec c-ares refuses. Make one per preflight: c-ares
 * caches answers per channel, which suits one run but would hide a CAA change from the next.
 * Each lookup is bounded by timeoutMs; a climb asks at most one name per label.
 */
export function createCaaLookup(opts: CaaLookupOptions): CaaLookup {
  if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1) throw new ValidationError(`CAA lookup: timeoutMs must be a positive integer, got ${String(opts.timeoutMs)}`);
  let resolver: Resolver;
  try {
    resolver = budgetedResolver(opts.timeoutMs, opts.resolver);
  } catch (err) {
    throw new ValidationError(`CAA lookup: invalid resolver ${JSON.stringify(opts.resolver)} (expected "host:port"): ${errorMessage(err)}`);
  }
  const via = opts.resolver !== undefined ? `DNS server ${opts.resolver}` : 'the system DNS servers';
  return async (name) => {
    opts.signal?.throwIfAborted();
    const cancel = (): void => resolver.cancel();
    opts.signal?.addEventListener('abort', cancel, { once: true });
    try {
      return fromNode(await resolver.resolveCaa(name));
    } catch (err) {
      opts.signal?.throwIfAborted();
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
      const why = code === 'ECANCELLED' ? 'cancelled' : code === 'ETIMEOUT' ? `${via} did not answer within ${opts.timeoutMs} ms` : dnsErrorText(err);
      throw new CaaLookupError(`CAA lookup for ${name} at ${via} failed: ${why}`, name, code, { cause: err });
    } finally {
      opts.signal?.removeEventListener('abort', cancel);
    }
  };
}

/** node gives `{ critical: <flags octet>, <tag as sent>: value }` per record (Node 24: and `type: 'CAA'`). */
function fromNode(records: ReadonlyArray<object>): CaaRecord[] {
  const out: CaaRecord[] = [];
  for (const r of records) {
    const entries = Object.entries(r);
    const flags = entries.find(([k]) => k === 'critical')?.[1];
    for (const [key, value] of entries) {
      // Node 24 adds `type: 'CAA'` to each record (as resolveAny always did): the RR type, not a tag.
      if (key === 'critical' || (key === 'type' && value === 'CAA') || typeof value !== 'string') continue;
      out.push({ flags: typeof flags === 'number' ? flags : 0, tag: key.toLowerCase(), value });
    }
  }
  return out;
}

/**
 * Shares lookups between calls (several names under one parent, several issuers checked against
 * the same names): one DNS question per name, failures included, for the life of the wrapper.
 */
export function memoizeCaaLookup(lookup: CaaLookup): CaaLookup {
  return memoizeAsync(lookup, (name) => name.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Judging

export interface IssueValue {
  /** Lower case; '' when the value names no issuer (`;`, empty): no CA may issue through it. */
  issuer: string;
  parameters: Array<{ tag: string; value: string }>;
}

/**
 * Parses an issue / issuewild value (§4.2): `[issuer-domain-name] [; tag=value; …]`, blanks
 * around each part. Returns undefined for a value outside that grammar: it authorizes nobody.
 */
export function parseIssueValue(value: string): IssueValue | undefined {
  const semi = value.indexOf(';');
  const issuer = (semi === -1 ? value : value.slice(0, semi)).replace(/^[ \t]+|[ \t]+$/g, '');
  if (issuer !== '' && !ISSUER_DOMAIN.test(issuer)) return undefined;
  const parameters: IssueValue['parameters'] = [];
  const rest = semi === -1 ? '' : value.slice(semi + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (rest !== '') {
    for (const part of rest.split(';')) {
      const m = PARAMETER.exec(part.replace(/^[ \t]+|[ \t]+$/g, ''));
      if (!m) return undefined;
      parameters.push({ tag: (m[1] as string).toLowerCase(), value: m[2] as string });
    }
  }
  return { issuer: issuer.toLowerCase(), parameters };
}

export type CaaOutcome =
  /** No CAA at the name or above: any CA may issue. */
  | 'no-caa'
  /** CAA exists but has no issue (or, for a wildcard, issuewild) property: any CA may issue. */
  | 'no-issue-property'
  /** A record names one of the CA's identities. */
  | 'authorized'
  /** The CA publishes no caaIdentities: we cannot tell; the CA decides. */
  | 'identities-unknown'
  /** Records name issuers, none of them this CA. */
  | 'not-authorized'
  /** No record names any issuer (`0 issue ";"`): no CA may issue. */
  | 'forbidden'
  /** A critical property we do not understand: no CA may issue (§4.1). */
  | 'critical-unknown'
  /** Only from caaPreflight: the DNS lookup failed; fail-closed. */
  | 'lookup-failed';

export interface CaaVerdict {
  allowed: boolean;
  outcome: CaaOutcome;
  /** The records that decided, e.g. the matching issue record or the critical one. */
  records: CaaRecord[];
  /** Why, as a predicate of the records: "does not allow this CA (…)" (caaPreflight adds the subject). */
  reason: string;
}

/** Valid identities, lower case, no trailing dot; junk left out. */
function cleanIdentities(ids: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const id of ids ?? []) {
    if (typeof id !== 'string') continue;
    const s = id.trim().toLowerCase().replace(/\.$/, '');
    if (ISSUER_DOMAIN.test(s) && s.length <= 253 && !out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * Whether a CA with `caaIdentities` may issue under `relevant` (from findRelevantCaa; null: no
 * CAA). `wildcard` says the name was `*.…`. Empty or missing identities: see the header.
 */
export function issuerAllowed(relevant: RelevantCaa | null, caaIdentities: readonly string[] | undefined, opts: { wildcard: boolean }): CaaVerdict {
  if (relevant === null || relevant.records.length === 0) {
    return { allowed: true, outcome: 'no-caa', records: [], reason: 'no CAA records: any CA may issue' };
  }
  const critical = relevant.records.filter((r) => (r.flags & CRITICAL) !== 0 && !KNOWN_TAGS.has(r.tag));
  if (critical.length > 0) {
    return { allowed: false, outcome: 'critical-unknown', records: critical, reason: 'is flagged critical with a tag certs does not know: RFC 8659 §4.1 forbids every CA to issue' };
  }
  const wild = opts.wildcard ? relevant.records.filter((r) => r.tag === 'issuewild') : [];
  const tag = wild.length > 0 ? 'issuewild' : 'issue';
  const props = wild.length > 0 ? wild : relevant.records.filter((r) => r.tag === 'issue');
  if (props.length === 0) {
    return { allowed: true, outcome: 'no-issue-property', records: relevant.records, reason: `has no ${opts.wildcard ? 'issue or issuewild' : 'issue'} property: any CA may issue` };
  }
  const parsed = props.map((r) => ({ record: r, value: parseIssueValue(r.value) }));
  const naming = parsed.filter((p) => p.value !== undefined && p.value.issuer !== '');
  const malformed = parsed.filter((p) => p.value === undefined).length;
  const note = malformed > 0 ? ` (${malformed} malformed ${tag} value${malformed === 1 ? '' : 's'} authorize${malformed === 1 ? 's' : ''} nobody)` : '';
  if (naming.length === 0) {
    return { allowed: false, outcome: 'forbidden', records: props, reason: `names no issuer: no CA may issue${note}` };
  }
  const ids = cleanIdentities(caaIdentities);
  if (ids.length === 0) {
    return {
      allowed: true,
      outcome: 'identities-unknown',
      records: props,
      reason: `names issuers, but this CA's directory lists no CAA identities (meta.caaIdentities): certs cannot tell whether it may issue; the CA decides`,
    };
  }
  const match = naming.filter((p) => ids.includes((p.value as IssueValue).issuer));
  if (match.length > 0) {
    return { allowed: true, outcome: 'authorized', records: match.map((p) => p.record), reason: `allows this CA (${(match[0]?.value as IssueValue).issuer})` };
  }
  return { allowed: false, outcome: 'not-authorized', records: props, reason: `does not allow this CA (its CAA identities: ${ids.join(', ')})${note}` };
}

// ---------------------------------------------------------------------------------------------
// Preflight

export interface CaaNameResult {
  /** As given. */
  name: string;
  allowed: boolean;
  outcome: CaaOutcome;
  /** Where the relevant records are, when there are any. */
  domain?: string;
  /** The deciding records in zone-file form, `example.com. CAA 0 issue "ca.test"`, `; `-separated. */
  record?: string;
  /** For the operator: the name, the records and the verdict. */
  message: string;
}

export interface CaaPreflightResult {
  /** Every name allowed. */
  allowed: boolean;
  names: CaaNameResult[];
}

/**
 * Checks each of `names` for a CA with `caaIdentities` (see caaIdentitiesOf; undefined when the CA
 * publishes none). Lookups are shared between names. A failed lookup fails that name only;
 * a name that is not a valid DNS name throws a ValidationError (config checks names first), and
 * an aborted `signal` rejects with its reason.
 */
export async function caaPreflight(
  names: readonly string[],
  caaIdentities: readonly string[] | undefined,
  lookup: CaaLookup,
  opts: { signal?: AbortSignal } = {},
): Promise<CaaPreflightResult> {
  const shared = memoizeCaaLookup(lookup);
  const results = await Promise.all(names.map((name) => checkName(name, caaIdentities, shared, opts.signal)));
  return { allowed: results.every((r) => r.allowed), names: results };
}

async function checkName(name: string, caaIdentities: readonly string[] | undefined, lookup: CaaLookup, signal: AbortSignal | undefined): Promise<CaaNameResult> {
  if (isIP(name.replace(/^\[(.*)\]$/, '$1'))) {
    return { name, allowed: true, outcome: 'no-caa', message: `${name} is an IP address: CAA does not apply (RFC 8738)` };
  }
  const { start, wildcard } = startName(name);
  let relevant: RelevantCaa | null;
  try {
    relevant = await findRelevantCaa(start, lookup);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    signal?.throwIfAborted();
    return {
      name,
      allowed: false,
      outcome: 'lookup-failed',
      // Not allowed by RFC 8659 §3 (a CA must not issue then); what to do with that is the
      // caller's: the order flow lets the CA decide (service/caa-check.ts).
      message: `cannot read CAA for ${name}: ${errorMessage(err)} (RFC 8659 §3: a CA must not issue without it)`,
    };
  }
  const verdict = issuerAllowed(relevant, caaIdentities, { wildcard });
  if (relevant === null) {
    return { name, allowed: true, outcome: verdict.outcome, message: `no CAA records at ${start} or above: any CA may issue for ${name}` };
  }
  const who = relevant.domain === name ? '' : `${name}: `;
  return {
    name,
    allowed: verdict.allowed,
    outcome: verdict.outcome,
    domain: relevant.domain,
    record: verdict.records.map((r) => `${relevant.domain}. CAA ${recordText(r)}`).join('; '),
    message: `${who}CAA at ${relevant.domain} (${verdict.records.map(recordText).join('; ')}) ${verdict.reason}`,
  };
}

/** `0 issue "ca.test"`: the RDATA as in a zone file, the value quoted and escaped (RFC 1035 §5.1). */
export function recordText(r: CaaRecord): string {
  // eslint-disable-next-line no-control-regex
  const value = r.value.replace(/["\\]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`);
  return `${r.flags} ${r.tag} "${value}"`;
}

// ---------------------------------------------------------------------------------------------
// Directory

/**
 * `meta.caaIdentities` of an ACME directory (RFC 8555 §7.1.1), valid domain names only, lower
 * case; undefined when the CA lists none (or only junk), which issuerAllowed reads as "unknown".
 */
export function caaIdentitiesOf(directory: unknown): string[] | undefined {
  if (typeof directory !== 'object' || directory === null) return undefined;
  const meta: unknown = (directory as { meta?: unknown }).meta;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const ids: unknown = (meta as { caaIdentities?: unknown }).caaIdentities;
  if (!Array.isArray(ids)) return undefined;
  const clean = cleanIdentities(ids.filter((x): x is string => typeof x === 'string'));
  return clean.length > 0 ? clean : undefined;
}
