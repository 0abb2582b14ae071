/**
 * One endpoint's page (`GET /endpoint/<id>` of `certs daemon`): what it serves certificate by
 * certificate, each problem with its fix, the days-left history, and the renewals, deployments
 * and notifications of its domain. Pure: EndpointDetail in, HTML out; no script (the page's CSP
 * allows the dashboard's one script by hash, this page needs none).
 *
 * Hooks for the browser tests: <li data-testid="chain-cert" data-fingerprint="AA:BB:…"> per
 * certificate, in the order of EndpointDetail.chain (served first, then the trust store's);
 * data-source="served" | "trust-store" on each.
 */
import { lifetimeBarSvg, lifetimePercent, sparklineSvg } from '../core/charts.js';
import type { CertInfo } from '../core/model.js';
import { subjectLabel, issuerLabel } from '../core/x509.js';
import { esc, num, plural, timeEl } from './html.js';
import type { EndpointDetail } from './model.js';
import { footer, knownStatus, pageHead, STATUS_ICON } from './page.js';
import type { PageOptions } from './page-options.js';

const DAY_MS = 86_400_000;
const SANS_SHOWN = 25;

function daysBetween(fromIso: string, toIso: string): number | null {
  const a = Date.parse(fromIso);
  const b = Date.parse(toIso);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Math.floor((b - a) / DAY_MS);
}

/** "in 12 days" / "today" / "12 days ago". */
function relDays(days: number | null): string {
  if (days === null) return '';
  if (days === 0) return 'today';
  return days > 0 ? `in ${plural(days, 'day')}` : `${plural(-days, 'day')} ago`;
}

function keyText(c: CertInfo): string {
  const type = c.keyType === 'ec' ? 'ECDSA' : c.keyType === 'rsa' ? 'RSA' : c.keyType.toUpperCase();
  const parts = [type];
  if (c.curve) parts.push(c.curve);
  if (c.keyBits !== null) parts.push(`${c.keyBits} bits`);
  return parts.join(' ');
}

function role(c: CertInfo, i: number): string {
  if (i === 0) return 'Leaf';
  if (c.selfSigned) return 'Root';
  return c.isCA ? 'Intermediate' : 'Certificate';
}

function sans(c: CertInfo): string {
  const all = [...c.dnsNames, ...c.ipAddresses];
  if (all.length === 0) return '<span class="muted">none</span>';
  const shown = all.slice(0, SANS_SHOWN).map((n) => `<code>${esc(n)}</code>`).join(' ');
  return all.length > SANS_SHOWN ? `${shown} <span class="muted">and ${num(all.length - SANS_SHOWN)} more</span>` : shown;
}

function chainCert(c: CertInfo, i: number, served: boolean, now: string): string {
  const left = daysBetween(now, c.notAfter);
  const expired = left !== null && Date.parse(c.notAfter) < Date.parse(now);
  const source = served ? 'served' : 'trust-store';
  return `<li data-testid="chain-cert" data-fingerprint="${esc(c.fingerprint256)}" data-source="${source}">`
    + `<h3>${i + 1}. ${role(c, i)} <span class="tag">${served ? 'served' : 'from the trust store'}</span></h3><dl class="kv">`
    + `<dt>Subject</dt><dd>${esc(subjectLabel(c))}</dd>`
    + `<dt>Names (SAN)</dt><dd>${sans(c)}</dd>`
    + `<dt>Issuer</dt><dd>${esc(issuerLabel(c))}${c.selfSigned ? ' <span class="tag">self-signed</span>' : ''}</dd>`
    + `<dt>Valid</dt><dd>${timeEl(c.notBefore)} – ${timeEl(c.notAfter)}${left === null ? '' : ` (${expired ? `<strong>expired</strong> ${relDays(left)}` : `expires ${relDays(left)}`})`}</dd>`
    + `<dt>Key</dt><dd>${esc(keyText(c))}</dd>`
    + `<dt>Signature</dt><dd>${esc(c.signatureAlgorithm)}</dd>`
    + `<dt>SHA-256</dt><dd class="fp">${esc(c.fingerprint256)}</dd>`
    + `<dt>Serial</dt><dd class="fp">${esc(c.serialNumber)}</dd>`
    + '</dl></li>';
}

function table(head: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${empty}</p>`;
  return `<div class="table-wrap"><table><thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table></div>';
}

/** The detail page of one endpoint. */
export function renderEndpointPage(detail: EndpointDetail, opts: PageOptions = { mode: 'daemon' }): string {
  const r = detail.row;
  const st = knownStatus(r.status);
  const out = [pageHead(`certs: ${r.endpoint} (${st})`, opts)];
  out.push('<body><header>');
  if (opts.mode === 'daemon') out.push('<p><a href="../">← All endpoints</a></p>');
  out.push(`<h1>${esc(r.domain)}</h1><p class="sub">${esc(r.endpoint)} · <span class="st s-${st}"><span aria-hidden="true">${STATUS_ICON[st]}</span> ${st}</span>${r.managed ? ' · <span class="tag">managed</span>' : ' · <span class="tag">monitor-only</span>'}</p></header><main>`);

  // Overview.
  const pct = lifetimePercent(r.lifetimeLeft);
  out.push('<section aria-labelledby="h-overview"><h2 id="h-overview">Overview</h2><dl class="kv">');
  out.push(`<dt>Endpoint</dt><dd>${esc(r.endpoint)}${r.source === 'file' ? ' <span class="tag">file</span>' : ''}</dd>`);
  out.push(`<dt>Days left</dt><dd>${r.daysLeft === null ? '–' : esc(String(r.daysLeft))}${r.notAfter ? ` (until ${timeEl(r.notAfter)})` : ''}</dd>`);
  out.push(`<dt>Lifetime left</dt><dd>${pct === null ? '–' : `${lifetimeBarSvg(pct, st)} ${pct}%`}</dd>`);
  out.push(`<dt>Subject</dt><dd>${r.subject === null ? '–' : esc(r.subject)}</dd>`);
  out.push(`<dt>Issuer</dt><dd>${r.issuer === null ? '–' : esc(r.issuer)}</dd>`);
  out.push(`<dt>Last scanned</dt><dd>${r.scannedAt ? timeEl(r.scannedAt) : 'never'}</dd>`);
  out.push('</dl></section>');

  // Problems.
  out.push(`<section aria-labelledby="h-problems"><h2 id="h-problems">Problems (${detail.problems.length})</h2>`);
  if (detail.problems.length === 0) out.push(`<p>${r.scannedAt ? 'None found in the last scan.' : 'Not scanned yet.'}</p>`);
  else {
    out.push('<ul class="problems">');
    for (const p of detail.problems) {
      const ps = p.severity === 'critical' ? 'critical' : 'warning';
      out.push(`<li data-testid="problem" data-code="${esc(p.code)}"><span class="st s-${ps}"><span aria-hidden="true">${STATUS_ICON[ps]}</span> ${ps}</span> <code>${esc(p.code)}</code> ${esc(p.message)}`
        + `${p.hint ? `<div class="hint">Fix: ${esc(p.hint)}</div>` : ''}</li>`);
    }
    out.push('</ul>');
  }
  out.push('</section>');

  // The chain.
  const servedCount = Math.min(detail.servedCount, detail.chain.length);
  out.push(`<section aria-labelledby="h-chain"><h2 id="h-chain">Certificate chain</h2>`);
  if (detail.chain.length === 0) out.push('<p class="muted">No certificate was read from this endpoint in its last scan.</p>');
  else {
    const added = detail.chain.length - servedCount;
    out.push(`<p class="muted">${plural(servedCount, 'certificate')} served${added ? `, ${num(added)} added from the trust store to complete the path` : ''}.</p><ol class="chain">`);
    detail.chain.forEach((c, i) => out.push(chainCert(c, i, i < servedCount, detail.generatedAt)));
    out.push('</ol>');
  }
  out.push('</section>');

  // History.
  const h = detail.history;
  out.push(`<section aria-labelledby="h-history"><h2 id="h-history">Days left over time</h2>${sparklineSvg(h)}`);
  out.push(`<p class="muted">${h.length ? `${plural(h.length, 'scan')} from ${timeEl(h[0]!.scannedAt)} to ${timeEl(h[h.length - 1]!.scannedAt)}.` : 'No scans recorded yet.'}</p></section>`);

  // Renewals, deployments, notifications.
  out.push(`<section aria-labelledby="h-renewals"><h2 id="h-renewals">Renewals of ${esc(r.domain)}</h2>`);
  out.push(table(['When', 'Result', 'Version', 'Detail'], detail.renewals.map((x) => [
    timeEl(x.at),
    x.ok ? '<span class="st s-ok"><span aria-hidden="true">✓</span> issued</span>' : '<span class="st s-critical"><span aria-hidden="true">✖</span> failed</span>',
    x.version === null ? '–' : esc(String(x.version)),
    esc(x.detail),
  ]), r.managed ? 'No renewal recorded yet.' : 'Monitor-only: certs does not renew this domain.'));
  out.push('</section>');
  out.push(`<section aria-labelledby="h-deployments"><h2 id="h-deployments">Deployments of ${esc(r.domain)}</h2>`);
  out.push(table(['When', 'State', 'Version', 'Detail'], detail.deployments.map((x) => [timeEl(x.at), esc(x.state), x.version === null ? '–' : esc(String(x.version)), esc(x.detail)]), 'No deployment recorded.'));
  out.push('</section>');
  out.push('<section aria-labelledby="h-notifications"><h2 id="h-notifications">Notifications about it</h2>');
  out.push(table(['When', 'Subject', 'State'], detail.notifications.map((x) => [timeEl(x.at), esc(x.subject), esc(x.state)]), 'No notification sent about this endpoint.'));
  out.push('</section></main>');
  out.push(footer(detail.generatedAt, detail.version, opts.mode), '</body></html>\n');
  return out.join('');
}
