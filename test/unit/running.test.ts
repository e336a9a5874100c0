import { describe, expect, it } from 'vitest';
import { RunningSet } from '../../src/worker/running.js';

interface Run {
  command: { id: string; leaseToken: string };
  slot: number;
}
const run = (id: string, leaseToken = 't1'): Run => ({ command: { id, leaseToken }, slot: -1 });

describe('RunningSet', () => {
  it('counts, finds and removes runs in any order', () => {
    const set = new RunningSet<Run>();
    const [a, b, c] = [run('a'), run('b'), run('c')];
    set.add(a);
    set.add(b);
    set.add(c);
    set.add(b); // adding a run twice keeps one entry
    expect(set.size).toBe(3);
    expect(set.remove(a)).toBe(true);
    expect(set.remove(a)).toBe(false);
    expect(set.has(a)).toBe(false);
    expect(set.has(b) && set.has(c)).toBe(true);
    expect(set.find('c', 't1')).toBe(c);
    expect(set.find('a', 't1')).toBeUndefined();
    expect(
      set
        .list()
        .map((r) => r.command.id)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  it('keeps two runs of one command apart by lease token', () => {
    const set = new RunningSet<Run>();
    const old = run('x', 'lease-1');
    const renewed = run('x', 'lease-2');
    set.add(old);
    set.add(renewed);
    expect(set.size).toBe(2);
    expect(set.find('x', 'lease-1')).toBe(old);
    expect(set.find('x', 'lease-2')).toBe(renewed);
    set.remove(old);
    expect(set.find('x', 'lease-1')).toBeUndefined();
    expect(set.find('x', 'lease-2')).toBe(renewed);
  });

  it('agrees with a plain Set through many adds and removes', () => {
    const set = new RunningSet<Run>();
    const reference = new Set<Run>();
    const pool = Array.from({ length: 40 }, (_, i) => run(`c${i}`));
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % pool.length;
    for (let step = 0; step < 5000; step++) {
      const r = pool[next()]!;
      if (reference.has(r)) {
        expect(set.remove(r)).toBe(true);
        reference.delete(r);
      } else {
        set.add(r);
        reference.add(r);
      }
      expect(set.size).toBe(reference.size);
    }
    expect(new Set(set.list())).toEqual(reference);
    for (const r of pool) expect(set.has(r)).toBe(reference.has(r));
  });

  it('hands out a copy that later changes do not touch', () => {
    const set = new RunningSet<Run>();
    const a = run('a');
    set.add(a);
    const snapshot = set.list();
    set.remove(a);
    expect(snapshot).toEqual([a]);
    expect(set.list()).toEqual([]);
  });
});
