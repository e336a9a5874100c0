import type { Logger } from 'pino';
import type { StoreOperation, WorkerEventMap } from '../core/events.js';
import { redactSecrets } from '../core/redact.js';
import type { Worker } from '../worker/worker.js';

/** What /ready answers: ready, or the reasons it is not (never a secret). */
export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** Longest error text quoted in a reason: a probe body is not a place for a stack. */
const MAX_REASON_ERROR = 300;

function quoted(message: string): string {
  const text = redactSecrets(message);
  return text.length > MAX_REASON_ERROR ? `${text.slice(0, MAX_REASON_ERROR)}…` : text;
}

/**
 * Asks the store for one cheap round trip (`ping`), at most once per `cacheMs` however
 * many probes come: a probe storm costs the store one ping a second. A ping that takes
 * longer than `timeoutMs` counts as unreachable; it is not started again while it hangs
 * (a stopped server keeps its connection open), so hung pings never pile up.
 */
export class StoreCheck {
  private last: { at: number; reason: string | null } | null = null;
  private checking: Promise<string | null> | null = null;
  private ping: Promise<void> | null = null;

  constructor(
    private readonly pingStore: () => Promise<void>,
    private readonly timeoutMs: number,
    private readonly cacheMs = 1000,
  ) {}

  /** Null when the store answered; otherwise why it counts as unreachable. */
  check(): Promise<string | null> {
    if (this.last && performance.now() - this.last.at < this.cacheMs) {
      return Promise.resolve(this.last.reason);
    }
    this.checking ??= this.run().then((reason) => {
      this.last = { at: performance.now(), reason };
      this.checking = null;
      return reason;
    });
    return this.checking;
  }

  private run(): Promise<string | null> {
    const ping = (this.ping ??= this.pingStore().finally(() => (this.ping = null)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`the store did not answer a ping within ${this.timeoutMs} ms`),
        this.timeoutMs,
      );
      timer.unref();
    });
    const answered = ping.then(
      () => null,
      (error: unknown) =>
        `the store cannot be reached: ${quoted(error instanceof Error ? error.message : String(error))}`,
    );
    return Promise.race([answered, timedOut]).finally(() => clearTimeout(timer));
  }
}

/** A watched worker and what its store events said last. */
interface Watched {
  worker: Worker;
  down: Map<StoreOperation, { since: Date; message: string }>;
  unwatch: () => void;
}

const OPERATION_NAMES: Record<StoreOperation, string> = {
  claim: 'claims',
  settle: 'outcome writes',
};

/**
 * Whether this process should get traffic: not while shutting down, not before every
 * watched worker has started, not while a worker's store calls fail (its storeDown and
 * storeUp events), and not while the store misses its ping.
 */
export class ReadinessState {
  private readonly watched: Watched[] = [];
  private readonly checks: (() => string[])[] = [];
  private shuttingDown = false;
  private wasReady: boolean | null = null;

  constructor(
    private readonly store: StoreCheck,
    private readonly logger: Logger,
  ) {}

  watch(worker: Worker): void {
    if (this.watched.some((w) => w.worker === worker)) return;
    const down: Watched['down'] = new Map();
    const onDown = (e: WorkerEventMap['storeDown']) =>
      down.set(e.operation, { since: new Date(), message: e.error.message });
    const onUp = (e: WorkerEventMap['storeUp']) => down.delete(e.operation);
    worker.events.on('storeDown', onDown).on('storeUp', onUp);
    this.watched.push({
      worker,
      down,
      unwatch: () => worker.events.off('storeDown', onDown).off('storeUp', onUp),
    });
  }

  /** Adds a check of something else this process runs (a stream service): its reasons, none when ready. */
  watchCheck(check: () => string[]): void {
    this.checks.push(check);
  }

  beginShutdown(): void {
    this.shuttingDown = true;
  }

  /** Stops listening to the watched workers. */
  close(): void {
    for (const w of this.watched.splice(0)) w.unwatch();
  }

  async evaluate(): Promise<Readiness> {
    // A process shutting down answers at once and asks the store nothing.
    const reasons = this.shuttingDown ? ['shutting down'] : await this.notReadyReasons();
    const readiness = { ready: reasons.length === 0, reasons };
    this.logChange(readiness);
    return readiness;
  }

  private async notReadyReasons(): Promise<string[]> {
    const reasons: string[] = [];
    for (const { worker, down } of this.watched) {
      if (!worker.running) reasons.push(`worker ${worker.workerId} is not running`);
      for (const [operation, d] of down) {
        reasons.push(
          `worker ${worker.workerId}: ${OPERATION_NAMES[operation]} failing since ${d.since.toISOString()}: ${quoted(d.message)}`,
        );
      }
    }
    for (const check of this.checks) reasons.push(...check().map(quoted));
    const store = await this.store.check();
    if (store !== null) reasons.push(store);
    return reasons;
  }

  private logChange(readiness: Readiness): void {
    if (readiness.ready === this.wasReady) return;
    // not ready before the first start, or during a shutdown, is expected; later it is news
    const expected = this.wasReady === null || this.shuttingDown;
    this.wasReady = readiness.ready;
    if (readiness.ready) this.logger.info('ready: /ready answers 200');
    else
      this.logger[expected ? 'info' : 'warn'](
        { reasons: readiness.reasons },
        'not ready: /ready answers 503',
      );
  }
}
