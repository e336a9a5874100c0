/**
 * Resolves on the first SIGINT or SIGTERM (or when `timeoutMs` passes), so the caller
 * can stop gracefully. A second signal while stopping exits at once: an operator who
 * presses Ctrl-C twice means it.
 */
export function waitForStopSignal(timeoutMs?: number): Promise<string> {
  return new Promise((resolve) => {
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => finish('timeout'), timeoutMs);
    const onSignal = (signal: NodeJS.Signals) => finish(signal);
    function finish(reason: string) {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const again = (signal: NodeJS.Signals) => {
        process.stderr.write(`\n${signal} again: exiting without waiting for running handlers\n`);
        process.exit(130);
      };
      process.once('SIGINT', again);
      process.once('SIGTERM', again);
      resolve(reason);
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
