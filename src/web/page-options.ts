/** How a dashboard page is rendered (src/web/page.ts, src/web/endpoint-page.ts). */
export interface PageOptions {
  /** 'daemon': served by `certs daemon` (detail links by default); 'file': one saved file (`certs report --html`). */
  mode: 'daemon' | 'file';
  /**
   * The link to an endpoint's detail page, or null for none (a file report has no detail pages:
   * its rows carry no link). Default: `endpoint/<id>` (relative, so it also works behind a
   * reverse proxy's path prefix) in daemon mode, none in file mode.
   */
  endpointHref?: (id: number) => string | null;
  /** Set as nonce="" on the page's <script> and <style> for a CSP that uses a nonce besides the hashes. */
  cspNonce?: string;
}

/** The detail link for `id` under `opts`, or null. */
export function hrefFor(opts: PageOptions, id: number | null): string | null {
  if (id === null) return null;
  if (opts.endpointHref) return opts.endpointHref(id);
  return opts.mode === 'daemon' ? `endpoint/${id}` : null;
}
