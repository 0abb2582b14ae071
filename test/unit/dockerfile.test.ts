/**
 * The Dockerfile and .dockerignore, checked without a Docker engine: the instructions are parsed
 * (continuations, comments, exec/JSON form, --flags) and held to what the image promises — two
 * named stages on one base, the build running the same npm commands as CI and the README, a
 * non-root runtime with /data as a volume, the daemon by default in exec form, a HEALTHCHECK on
 * /healthz that works in a slim image (its script is run here against a real HTTP server), no
 * remote ADD, no secrets in ENV/ARG, COPY --from naming an earlier stage, and a build context that
 * holds what the COPYs need and none of node_modules, dist, data or local config.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

// ---------------------------------------------------------------------------------------------
// A Dockerfile parser: enough of the reference's syntax for the checks below.

interface Instruction {
  line: number;
  keyword: string;
  /** Leading --name=value options (FROM --platform, COPY --from/--chown, HEALTHCHECK --interval). */
  flags: Record<string, string>;
  /** The arguments after the flags, continuations joined with a newline. */
  rest: string;
  /** Exec form (a JSON array), when the arguments are one. */
  exec?: string[];
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i] as string;
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i + 1;
    let logical = first;
    // A trailing backslash continues the instruction; comment and empty lines inside it are dropped.
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, '');
      i++;
      const next = lines[i] as string;
      if (/^\s*(#|$)/.test(next)) {
        logical += '\\';
        continue;
      }
      logical += `\n${next}`;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(logical);
    if (!m) continue;
    const keyword = (m[1] as string).toUpperCase();
    let rest = (m[2] as string).trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); f; f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
      flags[f[1] as string] = f[2] ?? '';
      rest = rest.slice(f[0].length);
    }
    let exec: string[] | undefined;
    // HEALTHCHECK CMD [...] / HEALTHCHECK NONE: the form is that of what follows CMD.
    const execText = keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/i, '') : rest;
    if (execText.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(execText);
        if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) exec = parsed;
      } catch {
        // not valid JSON: Docker runs it in shell form
      }
    }
    out.push({ line: start, keyword, flags, rest, ...(exec ? { exec } : {}) });
  }
  return out;
}

interface Stage {
  index: number;
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.rest.split(/\s+/);
      stages.push({ index: stages.length, image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      assert.ok(stages.length > 0 || ins.keyword === 'ARG', `line ${ins.line}: ${ins.keyword} before the first FROM`);
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return stages;
}

/** Shell commands of RUN instructions, split on && || ; and newlines, as word lists. */
function commandsOf(stage: Stage): string[][] {
  return stage.instructions
    .filter((i) => i.keyword === 'RUN')
    .flatMap((i) => (i.exec ? [i.exec.join(' ')] : i.rest.split(/&&|\|\||;|\n/)))
    .map((c) => c.trim().split(/\s+/).filter(Boolean))
    .filter((words) => words.length > 0);
}

/** npm flags that change only what npm prints, not what it installs or runs. */
const OUTPUT_ONLY = /^(--no-fund|--no-audit|--no-progress|--no-update-notifier|--silent|--quiet|-q|--loglevel(=.*)?)$/;
const npmCommand = (words: string[]): string => words.filter((w) => !OUTPUT_ONLY.test(w)).join(' ');

/** KEY=value pairs of ENV/ARG (and the legacy `ENV KEY value`). */
function assignments(ins: Instruction): Array<[string, string]> {
  if (ins.keyword === 'ENV' && !/^[^\s=]+=/.test(ins.rest)) {
    const [key = '', ...value] = ins.rest.split(/\s+/);
    return [[key, value.join(' ')]];
  }
  const pairs: Array<[string, string]> = [];
  for (const m of ins.rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g)) {
    pairs.push([m[1] as string, (m[2] ?? '').replace(/^(["'])(.*)\1$/s, '$2')]);
  }
  return pairs;
}

/** COPY/ADD sources and destination (shell or exec form). */
function copyArgs(ins: Instruction): { sources: string[]; dest: string } {
  const words = ins.exec ?? ins.rest.split(/\s+/).filter(Boolean);
  return { sources: words.slice(0, -1), dest: words.at(-1) ?? '' };
}

// ---------------------------------------------------------------------------------------------
// .dockerignore, as the Docker CLI applies it: patterns relative to the context root, Go-style
// globs plus **, a pattern that matches a directory excludes what it holds, `!` re-includes, and
// the last matching line wins.

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim().replace(/^\/+/, '')).replace(/\/+$/, '');
      return { negate, re: globToRegExp(pattern) };
    });
}

function isIgnored(rules: IgnoreRule[], path: string): boolean {
  const parts = posix.normalize(path).split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) ignored = !rule.negate;
  return ignored;
}

function filesUnder(rel: string): string[] {
  const abs = join(ROOT, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs).flatMap((name) => filesUnder(posix.join(rel, name)));
}

// ---------------------------------------------------------------------------------------------

const instructions = parseDockerfile(read('Dockerfile'));
const stages = stagesOf(instructions);
const build = stages[0] as Stage;
const runtime = stages.at(-1) as Stage;
const inStage = (s: Stage, keyword: string): Instruction[] => s.instructions.filter((i) => i.keyword === keyword);
const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string>; engines: { node: string } };

describe('the parser', () => {
  test('joins continuations, skips comments inside them, reads flags and exec form', () => {
    const parsed = parseDockerfile([
      '# comment',
      'FROM --platform=linux/amd64 node:20 AS a',
      'RUN one \\',
      '# dropped',
      '  && two',
      'HEALTHCHECK --interval=5s CMD ["node", "-e", "x"]',
      'ENV A=1 B="two words"',
      'ENV LEGACY some value',
    ].join('\n'));
    assert.deepEqual(parsed.map((i) => i.keyword), ['FROM', 'RUN', 'HEALTHCHECK', 'ENV', 'ENV']);
    assert.deepEqual(parsed[0]?.flags, { platform: 'linux/amd64' });
    assert.equal(parsed[1]?.rest, 'one \n  && two');
    assert.equal(parsed[1]?.line, 3);
    assert.deepEqual(parsed[2]?.exec, ['node', '-e', 'x']);
    assert.deepEqual(assignments(parsed[3] as Instruction), [['A', '1'], ['B', 'two words']]);
    assert.deepEqual(assignments(parsed[4] as Instruction), [['LEGACY', 'some value']]);
  });

  test('.dockerignore matching: directories, globs, **, exceptions, last match wins', () => {
    const rules = parseDockerignore('node_modules\n**/*.log\nconfig/*\n!config/keep.yaml\n/dist/\n');
    assert.equal(isIgnored(rules, 'node_modules/x/index.js'), true);
    assert.equal(isIgnored(rules, 'src/node_modules'), false);
    assert.equal(isIgnored(rules, 'a/b/c.log'), true);
    assert.equal(isIgnored(rules, 'c.log'), true);
    assert.equal(isIgnored(rules, 'config/secret.yaml'), true);
    assert.equal(isIgnored(rules, 'config/keep.yaml'), false);
    assert.equal(isIgnored(rules, 'config/demo/key.pem'), true);
    assert.equal(isIgnored(rules, 'dist/cli/main.js'), true);
    assert.equal(isIgnored(rules, 'src/cli/main.ts'), false);
  });
});

describe('Dockerfile: stages', () => {
  test('exactly two FROM, each a named stage, distinct names', () => {
    assert.equal(stages.length, 2, `FROM lines: ${instructions.filter((i) => i.keyword === 'FROM').map((i) => i.rest).join(' | ')}`);
    for (const s of stages) assert.match(s.name ?? '', /^[a-z][a-z0-9_.-]*$/, `stage ${s.index} (${s.image}) has no "AS name"`);
    assert.notEqual(build.name, runtime.name);
  });

  test('both stages on the same node:24 slim image, the newest Node that engines supports (the native module is built for the runtime)', () => {
    assert.equal(build.image, runtime.image);
    const m = /^node:(\d+)-bookworm-slim(@sha256:[0-9a-f]{64})?$/.exec(runtime.image);
    assert.ok(m, `unexpected base image ${runtime.image}`);
    // engines.node lists each supported major as its own range: "^20.9.0 || ^22 || ^24".
    const majors = pkg.engines.node.split('||').map((range) => /^\s*\^(\d+)(\.\d+){0,2}\s*$/.exec(range)?.[1]);
    assert.ok(majors.every((v) => v !== undefined), `engines.node is ${pkg.engines.node}: expected "^20.9.0 || ^22 || ^24"-style ranges`);
    assert.deepEqual(majors.map(Number), [20, 22, 24], `engines.node is ${pkg.engines.node}`);
    assert.equal(Number(m[1]), Math.max(...majors.map(Number)), `the image runs Node ${m[1]}; engines.node is ${pkg.engines.node}`);
  });

  test('every COPY --from names a stage defined earlier', () => {
    for (const s of stages) {
      for (const ins of inStage(s, 'COPY').filter((i) => 'from' in i.flags)) {
        const from = ins.flags.from as string;
        const earlier = stages.slice(0, s.index).map((x) => x.name);
        assert.ok(earlier.includes(from), `line ${ins.line}: COPY --from=${from} is not one of the earlier stages ${earlier.join(', ') || '(none)'}`);
      }
    }
  });

  test('no ADD of a URL or git repository (COPY only, nothing fetched unverified)', () => {
    for (const ins of instructions.filter((i) => i.keyword === 'ADD')) {
      for (const src of copyArgs(ins).sources) assert.doesNotMatch(src, /^(https?:|git@|git:|ssh:)/i, `line ${ins.line}: ADD ${src}`);
    }
  });
});

describe('Dockerfile: build stage', () => {
  const npm = commandsOf(build).filter((w) => w[0] === 'npm').map(npmCommand);

  test('runs npm ci, npm run build, then npm prune --omit=dev — nothing else from npm', () => {
    assert.deepEqual(npm, ['npm ci', 'npm run build', 'npm prune --omit=dev']);
  });

  test('the same install and build commands as CI and the README', () => {
    const ci = read('scripts/ci.sh').split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w[0] === 'npm' && w[1] === 'ci');
    assert.deepEqual(ci.map(npmCommand), ['npm ci'], 'scripts/ci.sh installs with npm ci');
    assert.match(read('README.md'), /npm ci && npm run build/);
    assert.ok(pkg.scripts.build, 'package.json has a build script');
  });

  test('installs the toolchain better-sqlite3 falls back to', () => {
    const apt = commandsOf(build).find((w) => w.includes('apt-get') && w.includes('install'));
    assert.ok(apt, 'no apt-get install in the build stage');
    for (const p of ['python3', 'make', 'g++']) assert.ok(apt.includes(p), `apt-get install lacks ${p}`);
  });

  test('copies what npm ci and the TypeScript build read, before running them', () => {
    const copied: Array<{ at: number; sources: string[] }> = [];
    build.instructions.forEach((ins, at) => {
      if (ins.keyword === 'COPY' && !('from' in ins.flags)) copied.push({ at, sources: copyArgs(ins).sources });
    });
    const before = (cmd: string): Set<string> => {
      const at = build.instructions.findIndex((i) => i.keyword === 'RUN' && i.rest.includes(cmd));
      assert.ok(at >= 0, `no RUN with ${cmd}`);
      return new Set(copied.filter((c) => c.at < at).flatMap((c) => c.sources));
    };
    const forCi = before('npm ci');
    for (const f of ['package.json', 'package-lock.json']) assert.ok(forCi.has(f), `${f} is not copied before npm ci`);
    const forBuild = before('npm run build');
    const tsBuild = JSON.parse(read('tsconfig.build.json')) as { extends?: string; include?: string[] };
    const needed = ['tsconfig.build.json', ...(tsBuild.extends ? [posix.normalize(tsBuild.extends)] : []), ...(tsBuild.include ?? [])];
    for (const f of needed) assert.ok(forBuild.has(f), `${f} (read by tsc -p tsconfig.build.json) is not copied before npm run build`);
  });
});

describe('Dockerfile: runtime stage', () => {
  const workdir = inStage(runtime, 'WORKDIR').at(-1)?.rest;
  const copies = inStage(runtime, 'COPY').map((i) => ({ from: i.flags.from, ...copyArgs(i) }));
  const destOf = (d: string): string => posix.normalize(posix.isAbsolute(d) ? d : posix.join(workdir ?? '/', d)).replace(/\/$/, '');

  test('copies dist/ and node_modules/ from the build stage, templates/, the example config and package.json', () => {
    assert.equal(workdir, '/app');
    const want: Array<[string | undefined, string, string]> = [
      [build.name, '/app/dist', '/app/dist'],
      [build.name, '/app/node_modules', '/app/node_modules'],
      [undefined, 'templates', '/app/templates'],
      [undefined, 'config/certs.example.yaml', '/app/config/certs.example.yaml'],
      [undefined, 'package.json', '/app/package.json'],
    ];
    for (const [from, src, dest] of want) {
      const hit = copies.find((c) => c.from === from && c.sources.some((s) => posix.normalize(s).replace(/\/$/, '') === src));
      assert.ok(hit, `no COPY ${from ? `--from=${from} ` : ''}${src}`);
      const d = destOf(hit.dest);
      assert.ok(d === dest || (hit.dest.endsWith('/') && posix.join(d, posix.basename(src)) === dest), `COPY ${src} goes to ${hit.dest}, expected ${dest}`);
    }
    // The bundled templates are found next to dist/ (src/config/*-templates.ts: ../../templates).
    assert.match(read('src/config/email-templates.ts'), /new URL\('\.\.\/\.\.\/templates\/email\/', import\.meta\.url\)/);
  });

  test('runs as a numeric non-root user (uid 10001) that the image creates', () => {
    const users = inStage(runtime, 'USER');
    assert.ok(users.length > 0, 'no USER in the runtime stage: the container would run as root');
    const [user = '', group] = (users.at(-1) as Instruction).rest.split(':');
    assert.notEqual(user, 'root');
    assert.notEqual(user, '0');
    assert.equal(user, '10001');
    if (group !== undefined) assert.notEqual(group, '0');
    const created = commandsOf(runtime).some((w) => w[0] === 'useradd' && w.join(' ').includes('--uid 10001'));
    assert.ok(created, 'no useradd --uid 10001');
  });

  test('/data is a volume, created and owned by that user before VOLUME', () => {
    const volumeAt = runtime.instructions.findIndex((i) => i.keyword === 'VOLUME');
    assert.ok(volumeAt >= 0, 'no VOLUME');
    const volume = runtime.instructions[volumeAt] as Instruction;
    assert.deepEqual(volume.exec ?? volume.rest.split(/\s+/), ['/data']);
    const chown = runtime.instructions.slice(0, volumeAt).filter((i) => i.keyword === 'RUN').flatMap((i) => i.rest.split(/&&|;|\n/).map((c) => c.trim()));
    assert.ok(chown.some((c) => /^chown\s+(-R\s+)?10001(:10001)?\s+\/data$/.test(c)), 'no `chown 10001 /data` before VOLUME');
  });

  test('CERTS_CONFIG=/config/certs.yaml; no secrets in ENV or ARG', () => {
    const env = new Map(inStage(runtime, 'ENV').flatMap(assignments));
    assert.equal(env.get('CERTS_CONFIG'), '/config/certs.yaml');
    for (const ins of instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      for (const [key, value] of assignments(ins)) {
        assert.doesNotMatch(key, /PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|AUTH/i, `line ${ins.line}: ${key} looks like a secret: pass it at run time`);
        assert.doesNotMatch(value, /-----BEGIN|:\/\/[^/\s:@]+:[^/\s@]+@/, `line ${ins.line}: ${key} holds a key or credentials`);
      }
    }
  });

  test('ENTRYPOINT runs the CLI with node in exec form; CMD is daemon', () => {
    const entry = inStage(runtime, 'ENTRYPOINT').at(-1);
    const cmd = inStage(runtime, 'CMD').at(-1);
    assert.deepEqual(entry?.exec, ['node', '/app/dist/cli/main.js'], 'ENTRYPOINT must be exec form so node gets SIGTERM itself');
    assert.equal(posix.join('/app', pkg.bin.certs ?? ''), '/app/dist/cli/main.js', 'package.json bin moved');
    assert.deepEqual(cmd?.exec, ['daemon']);
    assert.match(read('src/cli/program.ts'), /\.command\('daemon'\)/);
  });

  test('EXPOSE 9464; HEALTHCHECK hits /healthz on that port with node (no curl/wget in slim)', () => {
    assert.deepEqual(inStage(runtime, 'EXPOSE').map((i) => i.rest), ['9464']);
    const hc = inStage(runtime, 'HEALTHCHECK');
    assert.equal(hc.length, 1);
    const h = hc[0] as Instruction;
    assert.equal(h.exec?.[0], 'node', `HEALTHCHECK ${h.rest}`);
    assert.equal(h.exec?.[1], '-e');
    assert.match(h.exec?.[2] ?? '', /http:\/\/127\.0\.0\.1:9464\/healthz/);
    assert.doesNotMatch(h.rest, /\b(curl|wget)\b/);
    const seconds = (v: string | undefined): number => {
      const m = /^(\d+)(s|m)$/.exec(v ?? '');
      assert.ok(m, `duration ${v}`);
      return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
    };
    assert.ok(seconds(h.flags.timeout) < seconds(h.flags.interval), 'timeout shorter than the interval');
  });

  test('the HEALTHCHECK script exits 0 on 200, 1 on 503, 1 when nothing listens', async () => {
    const script = (inStage(runtime, 'HEALTHCHECK')[0] as Instruction).exec?.[2] ?? '';
    let code = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(code, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const runScript = (p: number): Promise<number | null> =>
      new Promise((r, reject) => {
        const child = spawn(process.execPath, ['-e', script.replace(':9464/', `:${p}/`)], { stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', (c) => r(c));
      });
    try {
      assert.equal(await runScript(port), 0);
      code = 503;
      assert.equal(await runScript(port), 1);
      assert.deepEqual(paths, ['/healthz', '/healthz']);
    } finally {
      await new Promise((r) => server.close(r));
    }
    assert.equal(await runScript(port), 1);
  });
});

describe('.dockerignore', () => {
  const rules = existsSync(join(ROOT, '.dockerignore')) ? parseDockerignore(read('.dockerignore')) : [];

  test('keeps out installed, built, state, local config and VCS files', () => {
    assert.ok(rules.length > 0, '.dockerignore is missing or empty');
    for (const p of ['node_modules/x/package.json', 'dist/cli/main.js', 'data/certs.db', 'config/certs.yaml', 'config/demo/demo.key', 'coverage/lcov.info', 'npm-debug.log', '.git/HEAD', '.scratch/x']) {
      assert.equal(isIgnored(rules, p), true, `${p} would be sent to the build`);
    }
  });

  test('lets in every file the COPY instructions read from the context', () => {
    const sources = instructions
      .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !('from' in i.flags))
      .flatMap((i) => copyArgs(i).sources);
    assert.ok(sources.length > 0);
    for (const src of sources) {
      const rel = posix.normalize(src).replace(/\/$/, '');
      assert.ok(existsSync(join(ROOT, rel)), `COPY ${src}: not in the repository`);
      for (const f of filesUnder(rel)) assert.equal(isIgnored(rules, f), false, `COPY ${src}: ${f} is excluded by .dockerignore`);
    }
  });
});
