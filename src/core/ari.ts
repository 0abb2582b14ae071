/**
 * ACME Renewal Information (RFC 9773), the pure parts: the certificate identifier, validating a
 * renewalInfo answer with its Retry-After, and picking a renewal moment inside the window.
 * Fetching lives in src/acme; persisting the window and the chosen time lives in src/store.
 */
import type { X509Certificate } from 'node:crypto';
import { ValidationError } from './errors.js';
import { TAG_INTEGER, TAG_SEQUENCE, type DerReader } from './der.js';
import { certificateExtension, certificateParts, certificateReader } from './x509.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * RFC 9773 §4.3.2: clients must bound the polling interval ("values under one minute could be
 * treated as if they were one minute, and values over one day could be treated as if they were
 * one day"); §4.3.3: a missing or invalid Retry-After is a long-term error, so the next fetch
 * comes after six hours.
 */
export const ARI_RETRY_MIN_MS = MINUTE_MS;
export const ARI_RETRY_MAX_MS = DAY_MS;
export const ARI_RETRY_DEFAULT_MS = 6 * HOUR_MS;

const AKI_OID = '2.5.29.35';

// ---- certificate identifier (§4.1) ----

/** keyIdentifier [0] IMPLICIT OCTET STRING of AuthorityKeyIdentifier (RFC 5280 §4.2.1.1). */
function akiKeyIdentifier(r: DerReader): Buffer | 'no-aki' | 'no-key-id' {
  const ext = certificateExtension(r, AKI_OID);
  if (!ext) return 'no-aki';
  const aki = r.expect(ext.value.start, ext.value.end, TAG_SEQUENCE, 'the AuthorityKeyIdentifier SEQUENCE');
  for (let p = aki.start; p < aki.end;) {
    const field = r.read(p, aki.end);
    if (field.tag === 0x80 && field.end > field.start) return r.buf.subarray(field.start, field.end);
    p = field.next;
  }
  return 'no-key-id';
}

/**
 * RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial INTEGER value bytes, with the
 * leading 0x00 DER keeps for a high first bit). Read from the DER, not from X509Certificate:
 * Node's serialNumber drops that 0x00, and Node exposes no AKI at all.
 */
export function ariCertId(cert: Buffer | X509Certificate): string {
  const r = certificateReader(Buffer.isBuffer(cert) ? cert : cert.raw);
  const { tbs } = certificateParts(r);
  let first = r.read(tbs.start, tbs.end);
  if (first.tag === 0xa0) first = r.read(first.next, tbs.end); // [0] version, absent in v1
  if (first.tag !== TAG_INTEGER || first.end === first.start) r.fail('expected the serialNumber INTEGER', first.start);
  const serial = r.buf.subarray(first.start, first.end);
  const keyId = akiKeyIdentifier(r);
  if (typeof keyId === 'string') {
    const what = keyId === 'no-aki'
      ? 'has no Authority Key Identifier extension'
      : 'has an Authority Key Identifier without a keyIdentifier (only issuer name and serial)';
    throw new ValidationError(`certificate with serial ${serial.toString('hex')} ${what}, so it has no ARI certificate ID (RFC 9773 §4.1)`, {
      hint: 'certificates from ACME CAs always carry one; this certificate was probably self-signed or issued outside ACME',
    });
  }
  return `${keyId.toString('base64url')}.${serial.toString('base64url')}`;
}

// ---- timestamps ----

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** UTC epoch ms with range checks, because Date.parse accepts "2025-02-30", "hello 2020" and "-5". */
function utc(y: number, mon: number, d: number, h: number, mi: number, s: number, ms = 0): number | undefined {
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const daysInMonth = mon === 2 && leap ? 29 : DAYS_IN_MONTH[mon - 1];
  if (daysInMonth === undefined || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 60) return undefined;
  const midnight = new Date(0);
  midnight.setUTCFullYear(y, mon - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  return midnight.getTime() + ((h * 60 + mi) * 60 + s) * 1000 + ms; // s = 60 (leap second) rolls over
}

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))$/;

/** An RFC 3339 date-time (as ACME JSON carries), or undefined. */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [y, mon, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const base = utc(y, mon, d, h, mi, s, ms);
  if (base === undefined) return undefined;
  if (m[8]) return new Date(base);
  const oh = Number(m[10]);
  const om = Number(m[11]);
  if (oh > 23 || om > 59) return undefined;
  return new Date(base - (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * MINUTE_MS);
}

const MON = MONTHS.join('|');
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d\\d) (${MON}) (\\d{4}) (\\d\\d):(\\d\\d):(\\d\\d) GMT$`);
const RFC850 = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d\\d)-(${MON})-(\\d\\d) (\\d\\d):(\\d\\d):(\\d\\d) GMT$`);
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MON}) ([ \\d]\\d) (\\d\\d):(\\d\\d):(\\d\\d) (\\d{4})$`);

/** An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms). */
function parseHttpDate(text: string, now: Date): number | undefined {
  const mon = (name: string): number => MONTHS.indexOf(name) + 1;
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[3]), mon(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = ASCTIME.exec(text);
  if (m) return utc(Number(m[6]), mon(m[1] as string), Number((m[2] as string).trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  m = RFC850.exec(text);
  if (!m) return undefined;
  // A two-digit year more than 50 years ahead means the most recent such year in the past.
  const thisYear = now.getUTCFullYear();
  let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
  if (year > thisYear + 50) year -= 100;
  return utc(year, mon(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * The moment a Retry-After header names (delta-seconds or HTTP-date), unclamped; undefined when
 * absent or not valid per RFC 9110 §10.2.3 (e.g. "-5", "soon"), which the RFC says to ignore.
 */
export function parseRetryAfter(header: string | undefined, now: Date): Date | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return new Date(now.getTime() + Math.min(Number(text), 1e10) * 1000);
  const at = parseHttpDate(text, now);
  return at === undefined ? undefined : new Date(at);
}

// ---- renewalInfo (§4.2, §4.3) ----

export interface RenewalInfo {
  start: Date;
  end: Date;
  explanationURL?: string;
  /** When to fetch renewalInfo again: Retry-After bounded to [1 minute, 1 day], 6 hours without one. */
  retryAfter: Date;
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `the string ${JSON.stringify(v)}` : `a ${typeof v}`;
}

function invalid(what: string): never {
  throw new ValidationError(`renewalInfo response: ${what}`, {
    hint: 'the CA answered ARI with something unusable; the lifetime rule applies until the next check',
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function timestamp(window: Record<string, unknown>, key: 'start' | 'end'): Date {
  const raw = window[key];
  if (typeof raw !== 'string') invalid(`suggestedWindow.${key} must be an RFC 3339 timestamp string, got ${raw === undefined ? 'nothing' : kind(raw)}`);
  return parseRfc3339(raw) ?? invalid(`suggestedWindow.${key} ${JSON.stringify(raw)} is not an RFC 3339 timestamp (expected e.g. 2025-01-02T04:00:00Z)`);
}

export function parseRenewalInfo(body: unknown, retryAfterHeader: string | undefined, now: Date): RenewalInfo {
  if (!isObject(body)) invalid(`expected a JSON object, got ${kind(body)}`);
  const window = body.suggestedWindow;
  if (!isObject(window)) invalid(`suggestedWindow must be an object with start and end, got ${window === undefined ? 'nothing' : kind(window)}`);
  const start = timestamp(window, 'start');
  const end = timestamp(window, 'end');
  if (end.getTime() <= start.getTime()) {
    invalid(`suggestedWindow.end ${end.toISOString()} is not after suggestedWindow.start ${start.toISOString()}`);
  }
  const info: RenewalInfo = { start, end, retryAfter: ariRetryAt(retryAfterHeader, now) };
  const url = body.explanationURL;
  if (url !== undefined) {
    if (typeof url !== 'string' || !/^https?:\/\/\S+$/i.test(url)) invalid(`explanationURL must be an http(s) URL, got ${kind(url)}`);
    info.explanationURL = url;
  }
  return info;
}

/** Next renewalInfo fetch: Retry-After clamped to [1 minute, 1 day]; 6 hours when absent or invalid. */
export function ariRetryAt(header: string | undefined, now: Date): Date {
  const at = parseRetryAfter(header, now);
  const wait = at === undefined ? ARI_RETRY_DEFAULT_MS : Math.min(Math.max(at.getTime() - now.getTime(), ARI_RETRY_MIN_MS), ARI_RETRY_MAX_MS);
  return new Date(now.getTime() + wait);
}

/**
 * RFC 9773 §4.2: a uniformly random time in the window, spreading a CA's clients over it; a pick
 * already in the past (window open or over) means renew now. `random` returns [0, 1), like
 * Math.random; the caller should persist the result so each run does not re-roll the dice.
 */
export function ariRenewalTime(window: { start: Date; end: Date }, now: Date, random: () => number): Date {
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  const start = window.start.getTime();
  const pick = start + Math.floor(unit * (window.end.getTime() - start));
  return new Date(Math.max(pick, now.getTime()));
}
