// Which reload failures mean "no nginx runs" (issue #10 §2): then the snippet nginx -t accepted
// stays. Messages as nginx 1.22 and systemctl print them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nginxNotRunning } from '../../../src/deploy/transaction.js';

describe('nginxNotRunning', () => {
  for (const msg of [
    'nginx reload (nginx -s reload) exited with code 1; stderr: nginx: [error] open() "/run/nginx.pid" failed (2: No such file or directory)',
    'stderr: nginx: [error] invalid PID number "" in "/run/nginx.pid"',
    'stderr: nginx: [alert] kill(4242, 1) failed (3: No such process)',
    'stderr: nginx.service is not active, cannot reload.',
  ]) it(`yes: ${msg.slice(-60)}`, () => assert.equal(nginxNotRunning(msg), true));

  for (const msg of [
    'stderr: nginx: [emerg] unknown directive "ssl_bogus_directive" in /etc/nginx/snippets/a.conf:3',
    'stderr: nginx: [alert] kill(4242, 1) failed (1: Operation not permitted)',
    'nginx reload (/bin/false) exited with code 1; no output',
    'stderr: nginx: [emerg] open() "/etc/nginx/x.conf" failed (2: No such file or directory)',
  ]) it(`no: ${msg.slice(-60)}`, () => assert.equal(nginxNotRunning(msg), false));
});
