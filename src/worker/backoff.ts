/** Delays for retrying store calls while the store is unreachable: 100 ms doubling to 5 s. */
export function storeRetryDelay(failures: number): number {
  return Math.min(5000, 100 * 2 ** Math.max(0, failures - 1));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
