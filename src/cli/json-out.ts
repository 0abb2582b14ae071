/**
 * Writes a JSON document with a long array — the report's `endpoints` — to a stream, byte for byte
 * what `JSON.stringify(doc, null, 2) + '\n'` gives, but in slices of rows. At 100,000 endpoints
 * that string is ~70 MB (plus the Buffer it is copied into for the write): built whole, it was the
 * largest single allocation of `certs scan --json` and `certs status --json` (issue 12 §6).
 */

/** Rows serialised per write. */
const ROWS_PER_WRITE = 500;

export interface TextSink {
  write(chunk: string): unknown;
}

/** `doc[key]` is an array at the top level of `doc`; the other keys keep their order. */
export function writeJsonDocument(out: TextSink, doc: object, key: string): void {
  const rows = (doc as Record<string, unknown>)[key];
  if (!Array.isArray(rows) || rows.length === 0) {
    out.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  // The array's place in the indented document, found through a marker no row can contain.
  const marker = JSON.stringify(`\u0000rows:${key}\u0000`);
  const head = JSON.stringify({ ...doc, [key]: JSON.parse(marker) as string }, null, 2);
  const at = head.indexOf(marker);
  out.write(`${head.slice(0, at)}[\n`);
  // Each slice stringified at the depth it has in the document, so its rows come out indented
  // as they will stand: only the slice's own brackets are cut off (no per-line re-indenting).
  const open = `{\n  ${JSON.stringify(key)}: [\n`.length;
  const close = '\n  ]\n}'.length;
  for (let i = 0; i < rows.length; i += ROWS_PER_WRITE) {
    const text = JSON.stringify({ [key]: rows.slice(i, i + ROWS_PER_WRITE) }, null, 2);
    out.write(`${text.slice(open, text.length - close)}${i + ROWS_PER_WRITE < rows.length ? ',\n' : '\n'}`);
  }
  out.write(`  ]${head.slice(at + marker.length)}\n`);
}
