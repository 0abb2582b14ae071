// The import boundaries of src/ (README, "Design") as eslint.config.js enforces them: each case
// lints a one-line file placed in a folder and expects an error or nothing (no crossing is
// merely warned any more). Before the rules, only core's I/O imports were refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });

async function verdict(file: string, code: string): Promise<'error' | 'warn' | 'ok'> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: file });
  const found = (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax');
  if (found.some((m) => m.severity === 2)) return 'error';
  return found.length ? 'warn' : 'ok';
}

const use = (spec: string): string => `import { x } from '${spec}';\nexport const y = x;`;

describe('import boundaries', () => {
  const table: Array<[string, string, 'error' | 'warn' | 'ok']> = [
    ['src/core/x.ts', use('./ip.js'), 'ok'],
    ['src/core/x.ts', use('../lib/process.js'), 'error'],
    ['src/core/x.ts', use('../config/types.js'), 'error'],
    ['src/core/x.ts', use('node:fs'), 'error'],
    ['src/lib/x.ts', use('../core/errors.js'), 'ok'],
    ['src/lib/x.ts', use('../config/types.js'), 'error'],
    ['src/lib/x.ts', use('../store/db.js'), 'error'],
    ['src/config/x.ts', use('../lib/atomic-write.js'), 'ok'],
    ['src/config/x.ts', use('../scan/tls-probe.js'), 'error'],
    ['src/scan/x.ts', use('../config/types.js'), 'ok'],
    ['src/scan/x.ts', use('../store/index.js'), 'error'],
    ['src/deploy/nginx/x.ts', `import type { A } from '../../acme/types.js';\nexport type B = A;`, 'error'],
    ['src/deploy/nginx/x.ts', use('../../lib/process.js'), 'ok'],
    ['src/notify/x.ts', 'export const f = () => import(\'../store/index.js\');', 'error'],
    ['src/store/x.ts', `export { x } from '../acme/client.js';`, 'error'],
    ['src/acme/x.ts', use('../service/renew.js'), 'error'],
    ['src/service/x.ts', use('../deploy/transaction.js'), 'ok'],
    ['src/service/x.ts', use('../cli/compose.js'), 'error'],
    ['src/service/x.ts', 'export const f = () => import(\'../cli/compose.js\');', 'error'],
    ['src/cli/x.ts', use('../store/index.js'), 'ok'],
    // The three old crossings are gone: each is an error now, like any other.
    ['src/acme/account.ts', use('../store/accounts.js'), 'error'],
    ['src/deploy/snippet.ts', use('../store/archive.js'), 'error'],
    ['src/store/notifications.ts', `import type { A } from '../notify/types.js';\nexport type B = A;`, 'error'],
    ['src/deploy/snippet.ts', use('../lib/cert-paths.js'), 'ok'],
    ['test/unit/x.test.ts', use('../../src/cli/compose.js'), 'ok'],
  ];
  for (const [file, code, want] of table) {
    it(`${file}: ${code.split('\n')[0]} → ${want}`, async () => assert.equal(await verdict(file, code), want));
  }
});
