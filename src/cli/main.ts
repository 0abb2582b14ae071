#!/usr/bin/env node
import { runCli } from './program.js';

// `certs status | head`: the reader went away, so nobody is left to read the rest. Stop quietly,
// as other Unix tools do (141, as if killed by SIGPIPE, unless the verdict is already known),
// instead of dying with an EPIPE stack trace on stderr.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 141);
    throw err;
  });
}

// The composition root's last job: exit with the command's code once its output is flushed.
runCli(process.argv).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`certs: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
