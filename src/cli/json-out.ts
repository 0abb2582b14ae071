/**
 * Writes a JSON document with a long array — the report's `endpoints` — to a stream, byte for byte
 * what `JSON.stringify(doc, null, 2) + '\n'` gives, but in slices of rows. At 100,000 endpoints
 * that string is ~70 MB (plus the Buffer it is copied into for the write): built whole, it was the
 * largest single allocation of `certs scan --json` and `certs status --json` (issue 12 §6).
 */

import { RenderedReport } from '../core/report.js';

/** Rows serialised per write. */
const ROWS_PER_WRITE = 500;

export interface TextSink {
  write(chunk: string): unknown;
}

export interface ByteSink {
  write(chunk: string | Uint8Array): unknown;
}

/** `doc[key]` is an array at the top level of `doc`; the other keys keep their order. */
export function writeJsonDocument(out: TextSink, doc: object, key: string): void {
  const rows = (doc as Record<string, unknown>)[key];
  if (!Array.isArray(rows) || rows.length === 0) {
    out.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const { before, after } = around(doc, key);
  out.write(before);
  for (let i = 0; i < rows.length; i += ROWS_PER_WRITE) {
    const slice = rows.slice(i, i + ROWS_PER_WRITE);
    out.write(`${sliceText(slice, key)}${i + ROWS_PER_WRITE < rows.length ? ',\n' : '\n'}`);
  }
  out.write(after);
}

/**
 * writeJsonDocument for a document whose other keys are known only once its rows are (the
 * summary of `status --json` counts them): `batches` gives the rows in order, each batch is
 * serialised as it comes and kept as bytes, off the JS heap, until `finish()` gives the rest of
 * the document (its `key` is ignored). Rows therefore never live longer than their batch.
 */
export async function writeJsonDocumentAfter(out: ByteSink, batches: AsyncIterable<readonly unknown[]> | Iterable<readonly unknown[]>, key: string, finish: () => object): Promise<void> {
  const parts: Buffer[] = [];
  for await (const batch of batches) if (batch.length > 0) parts.push(Buffer.from(sliceText(batch, key)));
  const doc = { ...finish(), [key]: [] };
  if (parts.length === 0) {
    out.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const { before, after } = around(doc, key);
  out.write(before);
  const comma = Buffer.from(',\n');
  for (let i = 0; i < parts.length; i++) {
    out.write(parts[i]!);
    out.write(i + 1 < parts.length ? comma : '\n');
  }
  out.write(after);
}

/** The document up to its `key` list's first row, and from after its last row. */
function around(doc: object, key: string): { before: string; after: string } {
  // The array's place in the indented document, found through a marker no row can contain.
  const marker = JSON.stringify(`\u0000rows:${key}\u0000`);
  const head = JSON.stringify({ ...doc, [key]: JSON.parse(marker) as string }, null, 2);
  const at = head.indexOf(marker);
  return { before: `${head.slice(0, at)}[\n`, after: `  ]${head.slice(at + marker.length)}\n` };
}

/**
 * Rows joined as they stand in the list. A RenderedReport is already serialised at this depth
 * (the store wrote it); runs of other rows are stringified together.
 */
function sliceText(slice: readonly unknown[], key: string): string {
  // Each run stringified at the depth it has in the document, so its rows come out indented
  // as they will stand: only the run's own brackets are cut off (no per-line re-indenting).
  const open = `{\n  ${JSON.stringify(key)}: [\n`.length;
  const close = '\n  ]\n}'.length;
  const stringify = (objects: readonly unknown[]): string => {
    const text = JSON.stringify({ [key]: objects }, null, 2);
    return text.slice(open, text.length - close);
  };
  if (!slice.some((r) => r instanceof RenderedReport)) return stringify(slice);
  const parts: string[] = [];
  let from = 0;
  for (let j = 0; j < slice.length; j++) {
    const r = slice[j];
    if (!(r instanceof RenderedReport)) continue;
    if (j > from) parts.push(stringify(slice.slice(from, j)));
    parts.push(r.json);
    from = j + 1;
  }
  if (from < slice.length) parts.push(stringify(slice.slice(from)));
  return parts.join(',\n');
}
