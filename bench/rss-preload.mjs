// Loaded with `node --import` into a process the bench measures: at exit, writes that process's
// own peak RSS (KiB, from getrusage) to $CERTS_BENCH_RSS_FILE. This needs no extra package
// (unlike /usr/bin/time from Debian's `time`) and measures exactly the Node process, including a
// run that ends with process.exit(). A process killed by a signal reports nothing.
import { writeFileSync } from 'node:fs';

const out = process.env.CERTS_BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    writeFileSync(out, String(process.resourceUsage().maxRSS));
  });
}
