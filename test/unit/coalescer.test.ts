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

const command = (i: number | string) => ({ id: String(i) }) as NewCommand;
const neverRefused = () => false;

class Refused extends Error {}

/**
 * A store that refuses, whole, any insert holding a command whose id starts with 'bad'
 * (naming the first), as PostgreSQL refuses a statement over one bad row.
 */
function refusingInsert(groups: string[][], stored: Set<string>) {
  return async (commands: NewCommand[]): Promise<InsertedCommand[]> => {
    groups.push(commands.map((c) => c.id));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const bad = commands.find((c) => c.id.startsWith('bad'));
    if (bad) throw new Refused(`refused ${bad.id}`);
    for (const c of commands) stored.add(c.id);
    return commands.map((c) => ({ command: c, created: true }) as never);
  };
}

/** How each send ended: its id when stored, else the error's message. */
const outcomes = (sends: Promise<InsertedCommand>[]) =>
  Promise.all(
    sends.map((p) =>
      p.then(
        (r) => r.command.id,
        (e: Error) => `${e.constructor.name}: ${e.message}`,
      ),
    ),
  );

describe('SendCoalescer', () => {
  it('sends a lone command at once', async () => {
    const groups: number[] = [];
    const coalescer = new SendCoalescer(recordingInsert(groups), neverRefused);
    await coalescer.send(command(1));
    expect(groups).toEqual([1]);
  });

  it('keeps 16 looping senders together, one insert at a time', async () => {
    const groups: number[] = [];
    const coalescer = new SendCoalescer(recordingInsert(groups), neverRefused);
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
    const coalescer = new SendCoalescer(recordingInsert(groups), neverRefused, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => coalescer.send(command(i))));
    expect(groups).toEqual([1, 10, 10, 4]);
  });

  it('fails every send of a group whose insert failed, without splitting it, then carries on', async () => {
    const groups: number[] = [];
    const down = new Error('connection refused');
    let failing = true;
    const coalescer = new SendCoalescer(async (commands) => {
      groups.push(commands.length);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (failing) throw down;
      return commands.map((c) => ({ command: c, created: true }) as never);
    }, neverRefused);
    const first = coalescer.send(command('lone'));
    const group = Array.from({ length: 8 }, (_, i) => coalescer.send(command(i)));
    const errors = await Promise.all(
      [first, ...group].map((p) =>
        p.then(
          () => null,
          (e: unknown) => e,
        ),
      ),
    );
    expect(errors).toEqual(Array(9).fill(down));
    // a store that fails is not asked again command by command
    expect(groups).toEqual([1, 8]);
    failing = false;
    expect((await coalescer.send(command('after'))).command.id).toBe('after');
  });

  it('fails only the sends the store refuses, each with its own error, and stores the rest', async () => {
    const groups: string[][] = [];
    const stored = new Set<string>();
    const coalescer = new SendCoalescer(
      refusingInsert(groups, stored),
      (e) => e instanceof Refused,
    );
    const lone = coalescer.send(command('first'));
    const ids = ['a', 'bad-1', 'b', 'c', 'd', 'e', 'bad-2', 'f', 'g', 'h', 'i', 'j', 'k'];
    const results = await outcomes([lone, ...ids.map((id) => coalescer.send(command(id)))]);
    expect(results).toEqual(
      ['first', ...ids].map((id) => (id.startsWith('bad') ? `Refused: refused ${id}` : id)),
    );
    expect([...stored].sort()).toEqual(
      ['first', ...ids.filter((id) => !id.startsWith('bad'))].sort(),
    );
    // halves, not one insert per command: after the lone first send and the refused 13,
    // the halves of 7 and 6, then 4 and 3, 2 and 2, 1 and 1, 2 and 1: 10 inserts, not 13
    expect(groups.length - 2).toBe(10);
    expect(groups.filter((g) => g.length === 1 && g[0]!.startsWith('bad'))).toHaveLength(2);
  });

  it('keeps sends made while a refused group is split waiting, and stores them after it', async () => {
    const groups: string[][] = [];
    const stored = new Set<string>();
    const coalescer = new SendCoalescer(
      refusingInsert(groups, stored),
      (e) => e instanceof Refused,
    );
    const first = coalescer.send(command('first'));
    const refused = ['a', 'bad', 'b'].map((id) => coalescer.send(command(id)));
    // sent once the group is refused and being split: they wait for the split to end
    const late = (async () => {
      while (groups.length < 3) await new Promise((resolve) => setImmediate(resolve));
      return outcomes(['c', 'd'].map((id) => coalescer.send(command(id))));
    })();
    expect(await outcomes([first, ...refused])).toEqual([
      'first',
      'a',
      'Refused: refused bad',
      'b',
    ]);
    expect(await late).toEqual(['c', 'd']);
    // one insert at a time, the late ones together after the split
    expect(groups).toEqual([
      ['first'],
      ['a', 'bad', 'b'],
      ['a', 'bad'],
      ['a'],
      ['bad'],
      ['b'],
      ['c', 'd'],
    ]);
  });

  it('fails a lone refused send with the store error, and a group of refused ones each alone', async () => {
    const groups: string[][] = [];
    const coalescer = new SendCoalescer(
      refusingInsert(groups, new Set()),
      (e) => e instanceof Refused,
    );
    const lone = await outcomes([coalescer.send(command('bad-lone'))]);
    expect(lone).toEqual(['Refused: refused bad-lone']);
    const all = await outcomes(
      ['bad-x', 'bad-y', 'bad-z'].map((id) => coalescer.send(command(id))),
    );
    expect(all).toEqual(['bad-x', 'bad-y', 'bad-z'].map((id) => `Refused: refused ${id}`));
  });

  it('reports no send as stored when the store answers for fewer commands than it was given', async () => {
    const coalescer = new SendCoalescer(
      (commands) =>
        Promise.resolve(
          commands
            .slice(commands.length > 1 ? 1 : 0)
            .map((c) => ({ command: c, created: true }) as never),
        ),
      neverRefused,
    );
    const results = await outcomes([0, 1, 2].map((i) => coalescer.send(command(i))));
    expect(results[0]).toBe('0'); // alone: answered in full
    expect(results.slice(1)).toEqual(
      Array(2).fill(
        'Error: the store answered for 1 of 2 commands sent together, so whether this one is stored is unknown; a send with an id or idempotency key of its own can be repeated safely',
      ),
    );
  });
});
