import type { NewCommand } from '../core/command.js';
import type { InsertedCommand } from '../backends/backend.js';

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
 */
export class SendCoalescer {
  private queue: Waiting[] = [];
  private inFlight = 0;

  constructor(
    private readonly insert: (commands: NewCommand[]) => Promise<InsertedCommand[]>,
    private readonly maxBatch = 1000,
    private readonly maxInFlight: number,
  ) {}

  send(command: NewCommand): Promise<InsertedCommand> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(group: Waiting[]): Promise<void> {
    try {
      const inserted = await this.insert(group.map((w) => w.command));
      group.forEach((w, i) => w.resolve(inserted[i]!));
    } catch (error) {
      for (const w of group) w.reject(error);
    }
  }
}
