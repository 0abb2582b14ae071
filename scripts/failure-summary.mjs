// A second test reporter for scripts/run-tests.mjs: prints nothing while the tests run, then one
// line per test that did not pass (failed, or cancelled: a hook that never settled, a process that
// ended with a test still pending), with its file, line and the first line of its error. A CI log
// is often read from its tail only; the TAP stream above names a failure thousands of lines earlier.
export default async function* failureSummary(source) {
  const bad = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const d = event.data;
    const err = d.details?.error;
    // A suite fails when one of its tests does: the test itself is listed.
    if (err?.failureType === 'subtestsFailed') continue;
    const where = d.file ? `${d.file.replace(process.cwd() + '/', '')}${d.line ? `:${d.line}` : ''}` : '(no file)';
    const cause = err?.cause instanceof Error ? err.cause.message : err?.cause ?? err?.message ?? '';
    const kind = err?.failureType ?? 'failed';
    bad.push(`  ${kind}: ${where} — ${d.name}${cause ? `: ${String(cause).split('\n')[0].slice(0, 300)}` : ''}`);
  }
  if (bad.length > 0) yield `\ntests that did not pass (${bad.length}):\n${bad.join('\n')}\n`;
}
