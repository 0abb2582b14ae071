/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal so that logs,
 * pipes and CI output stay clean. Redraws at most every 100 ms.
 */
export interface Progress {
  update(done: number, total: number, label?: string): void;
  finish(): void;
}

const NOOP: Progress = { update() {}, finish() {} };

export function createProgress(stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true): Progress {
  if (!enabled) return NOOP;
  let last = 0;
  let drawn = false;
  return {
    update(done, total, label = '') {
      const now = Date.now();
      if (done < total && now - last < 100) return;
      last = now;
      const width = 30;
      const filled = total === 0 ? width : Math.round((done / total) * width);
      const cols = stream.columns || 80;
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`;
      stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
