/**
 * An AbortController made only when someone looks at its signal or aborts it. Most
 * handlers never read `ctx.signal` and never time out, and an AbortController with its
 * signal costs a measurable share of a no-op handler's run at tens of thousands a second.
 */
export class LazyAbort {
  private controller: AbortController | null = null;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }
}
