#!/usr/bin/env node
import { runCli } from './program.js';

// The composition root's last job: exit with the command's code once its output is flushed.
runCli(process.argv).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`certs: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
