// Loopback port helpers for integration tests and benchmarks.
import net from 'node:net';

/**
 * A port that was free a moment ago on `host`: bind :0, read what the kernel chose, close.
 * Another process may take it before the caller binds it; callers that spawn a server on it
 * (startNginx) retry with a fresh port when the bind fails.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`freePort(${host}): unexpected address ${String(addr)}`));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

export interface WaitForPortOptions {
  /** Gap between attempts after a refused connection (ms). */
  intervalMs?: number;
  /** Give up early, e.g. when the server process has already exited. */
  signal?: AbortSignal;
}

/**
 * Resolves once a TCP connection to host:port succeeds; rejects with the last connect error after
 * `timeoutMs`, or when `signal` aborts. Each attempt waits for the connect outcome before the next
 * one starts, so the number of attempts is bounded by timeoutMs / intervalMs.
 */
export async function waitForPort(host: string, port: number, timeoutMs = 5000, opts: WaitForPortOptions = {}): Promise<void> {
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const why = lastError instanceof Error ? lastError.message : 'no attempt finished';
      throw new Error(`waitForPort: ${host}:${port} did not accept a connection within ${timeoutMs} ms (${attempt - 1} attempts; last: ${why})`, { cause: lastError });
    }
    try {
      await tryConnect(host, port, remaining, opts.signal);
      return;
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      lastError = err;
    }
    await pause(Math.min(intervalMs, Math.max(0, deadline - Date.now())), opts.signal);
  }
}

function tryConnect(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => done(new Error('aborted'));
    const timer = setTimeout(() => done(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => done());
    sock.once('error', (err) => done(err));
  });
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}
