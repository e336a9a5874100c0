import { randomUUID } from 'node:crypto';
import type { NewCommand } from '../../src/core/command.js';

/** `n` new commands as the bus would make them (fresh ids, due at once), for backend-level tests. */
export function newCommands(n: number, overrides: Partial<NewCommand> = {}): NewCommand[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    domain: 'test',
    type: 'T',
    dataJson: JSON.stringify({ i }),
    priority: 0,
    maxAttempts: 3,
    delayMs: 0,
    runAt: null,
    correlationId: null,
    causationId: null,
    batchId: null,
    idempotencyKey: null,
    ...overrides,
  }));
}
