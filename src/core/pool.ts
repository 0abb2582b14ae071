/**
 * Runs `worker` over `items` with at most `concurrency` in flight and keeps results in input
 * order. Pure control flow (no I/O of its own), so it lives in core and is shared by every layer.
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Math.max(1, Math.min(concurrency, items.length));
  async function lane(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      results[i] = await worker(items[i] as T, i);
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane));
  return results;
}
