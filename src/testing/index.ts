import pino from 'pino';
import { createPGliteBackend } from '../backends/pglite/index.js';
import { CommandBus, type CommandBusOptions } from '../bus/bus.js';
import type { Command } from '../core/command.js';
import type { CommandState } from '../core/states.js';
import type { WorkerOptions } from '../worker/worker.js';

export interface SentFilter {
  domain?: string | undefined;
  type?: string | undefined;
  state?: CommandState | undefined;
}

/**
 * A real bus on an in-memory embedded database, for application tests: send through it,
 * then assert what was sent (`sent`) or run the handlers (`runUntilIdle`). Nothing is
 * faked, so what passes here behaves the same on PostgreSQL.
 */
export class TestBus {
  constructor(readonly bus: CommandBus) {}

  /** Commands sent so far, oldest first, optionally filtered. */
  async sent(filter: SentFilter = {}): Promise<Command[]> {
    const all: Command[] = [];
    for (let afterId: string | undefined; ;) {
      const page = await this.bus.list({ ...filter, limit: 500, afterId });
      all.push(...page);
      if (page.length < 500) return all;
      afterId = page[page.length - 1]!.id;
    }
  }

  /**
   * Runs the registered handlers until no command is running or due, then stops the
   * worker. Commands scheduled for later stay pending.
   */
  async runUntilIdle(options: WorkerOptions = {}): Promise<void> {
    const worker = this.bus.worker({ ...options, pollIntervalMs: options.pollIntervalMs ?? 20 });
    await worker.start();
    try {
      while (await this.hasWorkDue()) {
        await worker.idle();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await worker.stop();
    }
  }

  private async hasWorkDue(): Promise<boolean> {
    const counts = await this.bus.countByState();
    if (counts.in_progress > 0) return true;
    const pending = await this.bus.backend.admin.listCommands({ state: 'pending', limit: 1000 });
    return pending.some((c) => c.runAt.getTime() <= Date.now() + 50);
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

export async function createTestBus(
  options: Omit<CommandBusOptions, 'backend'> = {},
): Promise<TestBus> {
  const backend = await createPGliteBackend();
  await backend.migrate();
  return new TestBus(
    new CommandBus({ ...options, logger: options.logger ?? pino({ level: 'silent' }), backend }),
  );
}
