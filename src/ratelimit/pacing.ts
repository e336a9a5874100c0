/**
 * How long a refused command waits, and when a worker may skip asking the store.
 *
 * The worker claims first and checks limits after, so a deep queue behind an empty bucket
 * or a full cap could be claimed and sent back as fast as the store allows. Both classes
 * here keep that churn in proportion to what the limit lets through, not to queue depth:
 * each worker sends its waiting commands back spaced about one token (or one expected
 * slot turnover) apart.
 */

const MAX_KEYS = 1000;

interface EmptyBucket {
  until: number;
  spacingMs: number;
  queued: number;
  /** The next token is due and one command of this worker is asking the store for it. */
  probing: boolean;
}

/**
 * Buckets the store said are empty. Until the next token is due, no command of this
 * worker asks the store again; they wait in line, one refill interval apart. Once it is
 * due, one command asks; the others wait on until its answer says the bucket has tokens
 * again (granted) or when the next one is due (refused). Without that, every command
 * whose wait ended at once asked together: on PostgreSQL each ask holds a connection
 * and the bucket's row until its commit, and a pool of 10 full of asks slowed every
 * other command of the worker to a third.
 */
export class BucketWaits {
  private readonly empty = new Map<string, EmptyBucket>();

  /** Records a refusal; returns how long the refused command waits. */
  refused(key: string, retryAfterMs: number, spacingMs: number, now = Date.now()): number {
    if (this.empty.size >= MAX_KEYS) {
      // Per-tenant keys are many: forget what is past.
      for (const [k, e] of this.empty) if (e.until <= now && !e.probing) this.empty.delete(k);
    }
    this.empty.set(key, { until: now + retryAfterMs, spacingMs, queued: 0, probing: false });
    return retryAfterMs;
  }

  /** The store granted a token (or could not answer): commands may ask freely again. */
  answered(key: string): void {
    this.empty.delete(key);
  }

  /** A command that was to ask (wait gave null) will not: another one may ask instead. */
  unprobe(key: string): void {
    const e = this.empty.get(key);
    if (e) e.probing = false;
  }

  /** How long a command must wait without asking the store, or null to ask it. */
  wait(key: string, now = Date.now()): number | null {
    const e = this.empty.get(key);
    if (!e) return null;
    if (now >= e.until) {
      if (!e.probing) {
        e.probing = true;
        e.queued = 0;
        return null;
      }
      e.queued++;
      return e.queued * e.spacingMs;
    }
    e.queued++;
    return e.until - now + e.queued * e.spacingMs;
  }
}

interface CapLine {
  /** When the next refused command of this worker is sent back. */
  nextAt: number;
  /** Until then, commands are refused without asking the store (one claimed batch). */
  quietUntil: number;
  /** Moving average of how long a run of this handler holds its slot here. */
  runMs: number;
}

/**
 * Caps the store said are full. When another worker frees a slot is unknowable, so the
 * waiting commands come back one after another, spaced by the expected time between two
 * slots freeing (run time / limit), each asking the store again.
 */
export class CapPacer {
  private readonly lines = new Map<string, CapLine>();

  constructor(
    private readonly random: () => number,
    private readonly defaultRunMs = 100,
  ) {}

  /** A refusal by the store: sends the command to the back of the line. */
  refused(key: string, limit: number, now = Date.now()): number {
    const line = this.line(key);
    const spacing = line.runMs / limit;
    line.quietUntil = now + spacing;
    return this.place(line, spacing, now);
  }

  /** How long a command waits without asking the store, or null to ask it. */
  wait(key: string, limit: number, now = Date.now()): number | null {
    const line = this.lines.get(key);
    if (!line || now >= line.quietUntil) return null;
    return this.place(line, line.runMs / limit, now);
  }

  /** A slot of this worker freed after `ranMs`: the next command may ask at once. */
  freed(key: string, ranMs: number): void {
    const line = this.line(key);
    line.runMs = 0.8 * line.runMs + 0.2 * Math.max(1, ranMs);
    line.quietUntil = 0;
  }

  private place(line: CapLine, spacing: number, now: number): number {
    const at = Math.max(line.nextAt, now + spacing);
    line.nextAt = at + spacing;
    return at - now + this.random() * spacing;
  }

  private line(key: string): CapLine {
    let line = this.lines.get(key);
    if (!line) {
      line = { nextAt: 0, quietUntil: 0, runMs: this.defaultRunMs };
      this.lines.set(key, line);
    }
    return line;
  }
}
