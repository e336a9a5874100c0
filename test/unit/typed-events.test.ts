import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import { TypedEvents } from '../../src/core/events.js';

interface Events {
  ping: { n: number };
  pong: { s: string };
}

/** TypedEvents with its emit opened for the test, and every log line kept. */
function emitter() {
  const lines: { msg: string; event?: string }[] = [];
  const logger = pino(
    { level: 'error' },
    { write: (l: string) => lines.push(JSON.parse(l) as (typeof lines)[number]) },
  );
  class Open extends TypedEvents<Events> {
    fire<K extends keyof Events>(name: K, event: Events[K]) {
      this.emit(name, event);
    }
  }
  return { events: new Open(logger, ['ping', 'pong'], 'test'), lines };
}

describe('TypedEvents', () => {
  it('calls the listeners of a name in the order they were added, and only theirs', () => {
    const { events } = emitter();
    const seen: string[] = [];
    events.on('ping', (e) => seen.push(`a${e.n}`));
    events.on('ping', (e) => seen.push(`b${e.n}`));
    events.on('pong', (e) => seen.push(e.s));
    events.fire('ping', { n: 1 });
    expect(seen).toEqual(['a1', 'b1']);
    expect(events.listenerCount('ping')).toBe(2);
    expect(events.listening('ping')).toBe(true);
  });

  it('calls a once listener once, and off removes it before it fired', () => {
    const { events } = emitter();
    let calls = 0;
    const listener = () => calls++;
    events.once('ping', listener);
    events.fire('ping', { n: 1 });
    events.fire('ping', { n: 2 });
    expect(calls).toBe(1);
    expect(events.listening()).toBe(false);
    events.once('ping', listener);
    events.off('ping', listener);
    events.fire('ping', { n: 3 });
    expect(calls).toBe(1);
    expect(events.listenerCount('ping')).toBe(0);
  });

  it('removes one registration per off, and ignores a listener that is not there', () => {
    const { events } = emitter();
    const listener = () => {};
    events.on('ping', listener).on('ping', listener);
    events.off('ping', listener).off('pong', listener);
    expect(events.listenerCount('ping')).toBe(1);
    events.off('ping', listener);
    expect(events.listening('ping')).toBe(false);
    expect(events.listening()).toBe(false);
  });

  it('logs a listener that throws or rejects, and calls the next one all the same', async () => {
    const { events, lines } = emitter();
    const seen: number[] = [];
    events.on('ping', () => {
      throw new Error('broke');
    });
    events.on('ping', () => Promise.reject(new Error('broke later')));
    events.on('ping', (e) => seen.push(e.n));
    expect(() => events.fire('ping', { n: 7 })).not.toThrow();
    expect(seen).toEqual([7]);
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.msg, l.event])).toEqual([
      ["a listener of test event 'ping' threw", 'ping'],
      ["a listener of test event 'ping' threw", 'ping'],
    ]);
  });

  it('refuses an unknown name or a listener that is not a function, adding nothing', () => {
    const { events } = emitter();
    expect(() => events.on('pang' as 'ping', () => {})).toThrow(ConfigurationError);
    expect(() => events.on('pang' as 'ping', () => {})).toThrow(
      'there is no test event named "pang"; the events are ping, pong',
    );
    expect(() => events.once('ping', 'f' as never)).toThrow(
      "the listener of test event 'ping' must be a function; got string",
    );
    expect(events.listening()).toBe(false);
  });
});
