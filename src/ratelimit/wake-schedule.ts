/**
 * Wake-ups at the moments commands sent back to wait become due again. Without them a
 * worker whose every command was refused would only look again at its next poll, and a
 * bucket that refills 20 times a second would be read once a second.
 *
 * Times are grouped into 10 ms slots, so a burst of refusals sets a handful of timers.
 */
export class WakeSchedule {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private stopped = false;

  /**
   * @param wake called when something is due
   * @param slackMs added to each delay: the store stamps the due time when the outcome is
   *   written, a little after the refusal
   */
  constructor(
    private readonly wake: () => void,
    private readonly slackMs = 20,
  ) {}

  at(delayMs: number): void {
    if (this.stopped) return;
    const slot = Math.ceil((Date.now() + delayMs + this.slackMs) / 10);
    if (this.timers.has(slot)) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(slot);
        this.wake();
      },
      Math.max(0, slot * 10 - Date.now()),
    );
    timer.unref();
    this.timers.set(slot, timer);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
