import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Import boundaries of src/ (README, "Design"): core is the domain and imports nothing from
// other folders; lib is shared low-level code (process runner, atomic write, host:port parser)
// and imports only core; the feature rooms import core, lib and config, never each other; only
// service combines features; only cli wires, and nothing imports cli. A relative specifier names
// the folder it reaches (`../store/x.js`, `../../store/x.js` from a subfolder), which is what the
// patterns match; dynamic import() is matched too, since no-restricted-imports does not see it.
const FEATURES = ['config', 'scan', 'acme', 'store', 'deploy', 'notify', 'web', 'demo'];
const FOLDERS = ['core', 'lib', ...FEATURES, 'service', 'cli'];

/** What each folder may import (besides itself and packages). */
const MAY_IMPORT = {
  core: [],
  lib: ['core'],
  config: ['core', 'lib'],
  ...Object.fromEntries(FEATURES.filter((f) => f !== 'config').map((f) => [f, ['core', 'lib', 'config']])),
  // The dashboard's renderers are pure (data in, HTML out); the demo world (PKI, loopback servers) needs no config.
  web: ['core'],
  demo: ['core', 'lib'],
  service: ['core', 'lib', ...FEATURES],
};

/** core/ stays pure: no I/O modules. */
const IO_MODULES = ['node:fs', 'node:fs/*', 'fs', 'node:net', 'node:tls', 'node:http', 'node:https', 'node:child_process', 'node:dns', 'better-sqlite3'];

const reaching = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

/** no-restricted-imports and the dynamic-import twin for one folder, at `level`. */
function boundary(folder, level) {
  const forbidden = FOLDERS.filter((f) => f !== folder && !MAY_IMPORT[folder].includes(f));
  const message = `src/${folder} may import ${MAY_IMPORT[folder].length ? MAY_IMPORT[folder].join(', ') : 'nothing from other src folders'} (README, "Design": import boundaries).`;
  const patterns = [{ regex: reaching(forbidden), message }];
  if (folder === 'core') patterns.push({ group: IO_MODULES, message: 'src/core is pure: no I/O modules.' });
  return {
    'no-restricted-imports': [level, { patterns }],
    'no-restricted-syntax': [level, { selector: `ImportExpression[source.value=/${reaching(forbidden).replace(/\//g, '\\/')}/]`, message }],
  };
}


export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', AbortController: 'readonly' } },
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...Object.keys(MAY_IMPORT).map((folder) => ({ files: [`src/${folder}/**/*.ts`], rules: boundary(folder, 'error') })),
);
