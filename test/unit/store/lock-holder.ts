import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Holds a write transaction on `path` in another process until `release()`, as a concurrent
 * `certs run` or a sqlite3 shell would. Resolves once the lock is held.
 */
export async function holdWriteLock(path: string, kind: 'EXCLUSIVE' | 'IMMEDIATE'): Promise<{ release(): Promise<void> }> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `
    const Database = require(${JSON.stringify(driver)});
    const db = new Database(process.argv[1]);
    db.exec('BEGIN ${kind}');
    process.stdout.write('locked\\n');
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    void exited.then((code) => reject(new Error(`lock holder exited (${code}) before locking: ${stderr}`)));
  });
  return {
    async release() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`lock holder exited with ${code}: ${stderr}`);
    },
  };
}
