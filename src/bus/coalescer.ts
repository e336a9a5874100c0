import type { NewCommand } from '../core/command.js';
import type { CommandStore, InsertedCommand } from '../backends/roles/commands.js';

interface Waiting {
  command: NewCommand;
  resolve: (inserted: InsertedCommand) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for `send()`: calls made while an insert is on its way wait and go
 * together in the next one, so 16 concurrent senders cost a handful of statements instead
 * of 16 round trips and 16 commits. Each promise resolves only after the statement that
 * carried its command has committed. An idle bus sends at once (no timer, no added latency).
 *
 * One insert is on its way at a time, on every store: with 16 senders, a second one in
 * flight split their commands into inserts of 1 and 15 and was slower (PostgreSQL 14,400
 * against 15,700/s, PGlite 13,700 against 18,700/s; Redis 31,200-34,300 against
 * 33,200-38,800/s once the place is held a turn, below).
 */
export class SendCoalescer {
  private queue: Waiting[] = [];
  private inFlight = false;

  /**
   * `isRefusal` tells a store refusing what was sent (split the group to find the culprit)
   * from a store failing (every command of the group gets the error): Backend.isRefusal.
   */
  constructor(
    private readonly insert: (commands: NewCommand[]) => Promise<InsertedCommand[]>,
    private readonly isRefusal: (error: unknown) => boolean,
    private readonly maxBatch = 1000,
  ) {}

  /** The group commit of a backend's inserts outside any application transaction. */
  static of(backend: CommandStore): SendCoalescer {
    return new SendCoalescer(
      (commands) => backend.insertCommands({ commands }),
      (error) => backend.isRefusal(error),
    );
  }

  send(command: NewCommand): Promise<InsertedCommand> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const group = this.queue.splice(0, this.maxBatch);
    this.inFlight = true;
    // The place is held one more turn of the event loop: the senders this flush has just
    // answered send again from their continuations (microtasks), and their next commands
    // should go out together. Freed at once, the first of them went alone and the rest
    // waited for it: with 16 senders, inserts alternated 1 and 15 commands (PostgreSQL
    // 16,200 against 27,500 sends a second held).
    void this.flush(group).finally(() =>
      setImmediate(() => {
        this.inFlight = false;
        this.pump();
      }),
    );
  }

  /**
   * Inserts a group and answers each of its senders. A group the store refuses is split in
   * halves, each inserted on its own, down to single commands, so that one send the store
   * cannot hold fails alone with its own error and the others are stored: k culprits among
   * n commands cost about 2k·log2(n) more inserts, and none when nothing is refused. A
   * command of a refused group may have been stored before the refusal (when one domain's
   * script of a Redis MULTI fails, the others' writes stay); sent again, its id returns
   * it as it is.
   * A failing store is not split: every sender of the group gets its error, at once.
   */
  private async flush(group: Waiting[]): Promise<void> {
    let inserted: InsertedCommand[];
    try {
      inserted = await this.insert(group.map((w) => w.command));
    } catch (error) {
      if (group.length > 1 && this.isRefusal(error)) {
        const half = Math.ceil(group.length / 2);
        await this.flush(group.slice(0, half));
        await this.flush(group.slice(half));
      } else {
        for (const w of group) w.reject(error);
      }
      return;
    }
    if (inserted.length !== group.length) {
      const error = new Error(
        `the store answered for ${inserted.length} of ${group.length} commands sent together, so whether this one is stored is unknown; a send with an id or idempotency key of its own can be repeated safely`,
      );
      for (const w of group) w.reject(error);
      return;
    }
    group.forEach((w, i) => w.resolve(inserted[i]!));
  }
}
