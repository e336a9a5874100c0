import { describe, expect, it } from 'vitest';
import type { InsertedCommand } from '../../src/backends/backend.js';
import { SendCoalescer } from '../../src/bus/coalescer.js';
import type { NewCommand } from '../../src/core/command.js';

/** An insert that answers after a turn of I/O, recording how many commands each carried. */
function recordingInsert(groups: number[]) {
  return (commands: NewCommand[]): Promise<InsertedCommand[]> => {
    groups.push(commands.length);
    return new Promise((resolve) =>
      setTimeout(() => resolve(commands.map((c) => ({ command: c, created: true }) as never)), 1),
    );
  };
}

const command = (i: number) => ({ id: String(i) }) as NewCommand;

describe('SendCoalescer', () => {
  it('sends a lone command at once', async () => {
    const groups: number[] = [];
    const coalescer = new SendCoalescer(recordingInsert(groups));
    await coalescer.send(command(1));
    expect(groups).toEqual([1]);
  });

  it('keeps 16 looping senders together, one insert at a time', async () => {
    const groups: number[] = [];
    const coalescer = new SendCoalescer(recordingInsert(groups));
    // as CommandBus.send calls it: one async layer between the sender and the coalescer
    const send = async (c: NewCommand) => (await coalescer.send(c)).command;
    let next = 0;
    const answered: string[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 320) answered.push((await send(command(next++))).id);
      }),
    );
    expect(new Set(answered).size).toBe(320);
    // the first sender goes alone; from then on all 16 go together (each sends again as
    // soon as it is answered, and none is let out alone ahead of the others) until the
    // last insert takes what is left
    expect(groups[0]).toBe(1);
    expect(groups.slice(1, -1)).toEqual(Array(groups.length - 2).fill(16));
    expect(groups.reduce((a, b) => a + b)).toBe(320);
  });

  it('splits a queue longer than the largest insert', async () => {
    const groups: number[] = [];
    const coalescer = new SendCoalescer(recordingInsert(groups), 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => coalescer.send(command(i))));
    expect(groups).toEqual([1, 10, 10, 4]);
  });
});
