/**
 * Runs `fn` over `items` with at most `limit` calls in flight, results in input order. A Lambda
 * has one or two vCPUs and a memory cap: ten 50 MB objects decoded at once would exhaust it, while
 * strictly one at a time leaves the network idle during the CPU work.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
