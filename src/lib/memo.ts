/**
 * One call per key for the life of the returned function: concurrent and later callers share the
 * promise, a rejection included (a CA down, a name that does not resolve: asked once per run).
 */
export function memoizeAsync<K, V>(fn: (key: K) => Promise<V>, keyOf: (key: K) => unknown = (k) => k): (key: K) => Promise<V> {
  const known = new Map<unknown, Promise<V>>();
  return (key) => {
    const k = keyOf(key);
    let p = known.get(k);
    if (!p) {
      p = fn(key);
      // Every caller awaits its own copy; this one only keeps a rejection nobody awaited quiet.
      p.catch(() => undefined);
      known.set(k, p);
    }
    return p;
  };
}
