/**
 * Root reads every file whatever its mode, so "permission denied" paths can only be tested as
 * another user. `callAsNobody` runs one exported function in a child process as uid/gid 65534
 * and reports what it threw; when not root it simply calls the function here.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';

export interface CallOutcome {
  ok: boolean;
  name?: string;
  code?: string;
  message?: string;
}

export function callAsNobody(moduleUrl: URL, exportName: string, args: unknown[]): CallOutcome {
  const script = `
    const m = await import(${JSON.stringify(moduleUrl.href)});
    const args = JSON.parse(process.argv[1]);
    try { m[${JSON.stringify(exportName)}](...args); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message })); }
  `;
  const asRoot = process.getuid?.() === 0;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(args)], {
    encoding: 'utf8',
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    env: { ...process.env, HOME: tmpdir() },
  });
  if (res.status !== 0) throw new Error(`child failed (${res.status}): ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as CallOutcome;
}
