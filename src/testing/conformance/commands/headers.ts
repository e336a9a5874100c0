import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { COPY_AT_LEAST } from '../../../backends/sql/copy.js';
import type { Command } from '../../../core/command.js';
import { ValidationError } from '../../../core/errors.js';
import { eventually, expectState, type SuiteContext } from '../context.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Text that every store's encoding of headers must carry unchanged (COPY, JSON, Lua). */
const AWKWARD = 'tab\there \\back\\slash\\ new\nline "quoted" \\N é 🚀 \r';

export function headerTests(ctx: SuiteContext): void {
  describe('headers', () => {
    it('carries headers from the send to the store, the handler and back, names in lower case', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const seen: { headers: Record<string, string>; command: Record<string, string> }[] = [];
      bus.handle(domain, 'T', (_data, c) => {
        seen.push({ headers: { ...c.headers }, command: { ...c.command.headers } });
      });
      const sent = await bus.send(
        domain,
        'T',
        {},
        { headers: { TraceParent: TRACEPARENT, 'x-tenant': 'acme', note: AWKWARD } },
      );
      const expected = { traceparent: TRACEPARENT, 'x-tenant': 'acme', note: AWKWARD };
      expect(sent.headers).toEqual(expected);
      expect((await bus.get(sent.id)).headers).toEqual(expected);
      expect((await bus.list({ domain }))[0]!.headers).toEqual(expected);
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'completed');
      expect(seen).toEqual([{ headers: expected, command: expected }]);
      expect((await bus.get(sent.id)).headers).toEqual(expected);
    });

    it('gives {} for a command sent without headers, or with none in them', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const seen: Record<string, string>[] = [];
      bus.handle(domain, 'T', (_data, c) => {
        seen.push(c.headers);
      });
      const sent = [
        await bus.send(domain, 'T', { n: 1 }),
        await bus.send(domain, 'T', { n: 2 }, { headers: {} }),
        await bus.send(domain, 'T', { n: 3 }, { headers: undefined }),
        ...(await bus.sendMany([{ domain, type: 'T', data: { n: 4 }, headers: {} }])),
      ];
      for (const command of sent) {
        expect(command.headers).toEqual({});
        expect((await bus.get(command.id)).headers).toEqual({});
      }
      await ctx.worker(bus);
      for (const command of sent) await expectState(bus, command.id, 'completed');
      expect(seen).toEqual([{}, {}, {}, {}]);
    });

    it('stores the headers of a bulk send (the bulk path: COPY on the SQL stores)', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const n = Math.max(200, COPY_AT_LEAST);
      const headersOf = (i: number) =>
        i % 2 === 0 ? { 'x-index': String(i), note: `${AWKWARD}${i}` } : undefined;
      const sent = await bus.sendMany(
        Array.from({ length: n }, (_, i) => ({
          domain,
          type: 'T',
          data: { i },
          headers: headersOf(i),
        })),
      );
      for (const i of [0, 1, 2, n - 2, n - 1]) {
        const expected = headersOf(i) ?? {};
        expect(sent[i]!.headers).toEqual(expected);
        expect((await bus.get(sent[i]!.id)).headers).toEqual(expected);
      }
    });

    it('returns the first command, with its headers, for a duplicate id or idempotency key', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const id = randomUUID();
      const first = await bus.send(domain, 'T', {}, { id, headers: { first: 'yes' } });
      const keyed = await bus.send(domain, 'T', {}, { idempotencyKey: 'k', headers: { a: '1' } });
      const [again, dup] = await bus.sendMany([
        { domain, type: 'T', data: {}, id, headers: { first: 'no' } },
        { domain, type: 'T', data: {}, idempotencyKey: 'k', headers: { a: '2' } },
      ]);
      expect(again!.id).toBe(first.id);
      expect(again!.headers).toEqual({ first: 'yes' });
      expect(dup!.id).toBe(keyed.id);
      expect(dup!.headers).toEqual({ a: '1' });
    });

    it('carries the headers of batch commands, and gives the completion command those of onComplete', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const seen = new Map<string, Record<string, string>>();
      bus.handle(domain, 'Item', (data: { n: number }, c) => {
        seen.set(`item ${data.n}`, c.headers);
      });
      bus.handle(domain, 'Done', (_data, c) => {
        seen.set('done', c.headers);
      });
      // enough fresh commands for the bulk path (COPY on the SQL stores) ...
      const n = Math.max(150, COPY_AT_LEAST);
      const batch = await bus.createBatch({
        commands: Array.from({ length: n }, (_, i) => ({
          domain,
          type: 'Item',
          data: { n: i },
          headers: i === 0 ? undefined : { 'x-item': String(i), traceparent: TRACEPARENT },
        })),
        onComplete: { domain, type: 'Done', headers: { 'X-Report': 'monthly' } },
      });
      // ... and a keyed one, for the other insert
      await bus.createBatch({
        commands: [
          { domain, type: 'Item', data: { n: -1 }, idempotencyKey: 'k', headers: { keyed: 'yes' } },
        ],
      });
      await ctx.worker(bus, { concurrency: 16 });
      await eventually(() => expect(seen.get('done')).toBeDefined());
      expect(seen.get('item 0')).toEqual({});
      expect(seen.get('item 7')).toEqual({ 'x-item': '7', traceparent: TRACEPARENT });
      expect(seen.get('item -1')).toEqual({ keyed: 'yes' });
      // nothing of the batch's commands, only what onComplete named
      expect(seen.get('done')).toEqual({ 'x-report': 'monthly' });
      const done = await bus.getBatch(batch.id);
      expect((await bus.get(done.completionCommandId!)).headers).toEqual({
        'x-report': 'monthly',
      });
    });

    it("passes the handled command's trace context on to follow-ups, and nothing else unasked", async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const parent = {
        traceparent: TRACEPARENT,
        tracestate: 'vendor=abc',
        baggage: 'user=42',
        'x-tenant': 'acme',
      };
      const children: Record<string, Command> = {};
      bus.handle(domain, 'Parent', async (_data, c) => {
        children.plain = await c.send(domain, 'Child', {});
        children.ownTrace = await c.send(
          domain,
          'Child',
          {},
          { headers: { TraceParent: '00-11111111111111111111111111111111-2222222222222222-01' } },
        );
        children.ownBaggage = await c.send(
          domain,
          'Child',
          {},
          { headers: { Baggage: 'user=7', 'x-tenant': c.headers['x-tenant']! } },
        );
      });
      bus.handle(domain, 'Untraced', async (_data, c) => {
        children.untraced = await c.send(domain, 'Child', {});
      });
      bus.handle(domain, 'Child', () => null);
      const sent = await bus.send(domain, 'Parent', {}, { headers: parent });
      const untraced = await bus.send(domain, 'Untraced', {}, { headers: { 'x-tenant': 'acme' } });
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'completed');
      await expectState(bus, untraced.id, 'completed');
      const stored = async (name: string) => (await bus.get(children[name]!.id)).headers;
      expect(await stored('plain')).toEqual({
        traceparent: TRACEPARENT,
        tracestate: 'vendor=abc',
        baggage: 'user=42',
      });
      // traceparent and tracestate travel as a pair: a follow-up's own trace takes neither
      expect(await stored('ownTrace')).toEqual({
        traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
        baggage: 'user=42',
      });
      expect(await stored('ownBaggage')).toEqual({
        traceparent: TRACEPARENT,
        tracestate: 'vendor=abc',
        baggage: 'user=7',
        'x-tenant': 'acme',
      });
      expect(await stored('untraced')).toEqual({});
      expect(children.plain!.causationId).toBe(sent.id);
    });

    it('refuses bad headers with an error naming the header and the limit, failing only that send', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const cases: [unknown, string, RegExp][] = [
        [{ 'bad name': 'x' }, 'headers["bad name"]', /HTTP field name/],
        [{ '': 'x' }, 'headers[""]', /1 to 128 characters/],
        [{ ['n'.repeat(129)]: 'x' }, `headers["${'n'.repeat(129)}"]`, /1 to 128 characters/],
        [{ big: 'v'.repeat(4097) }, 'headers["big"]', /4097 characters, over the limit of 4096/],
        [{ nul: 'a\u0000b' }, 'headers["nul"]', /U\+0000/],
        [{ lone: 'a\ud800' }, 'headers["lone"]', /surrogate/],
        [{ n: 5 }, 'headers["n"]', /must be text; got number/],
        [{ 'X-A': '1', 'x-a': '2' }, 'headers["x-a"]', /given twice/],
        [
          Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`h${i}`, ''])),
          'headers',
          /65 headers, over the limit of 64/,
        ],
        [
          Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`h${i}`, 'v'.repeat(4000)])),
          'headers',
          /over the limit of 16384 bytes/,
        ],
        [['traceparent', TRACEPARENT], 'headers', /plain object/],
        ['traceparent', 'headers', /plain object/],
      ];
      const results = await Promise.allSettled([
        bus.send(domain, 'T', { n: 'before' }),
        ...cases.map(([headers]) =>
          bus.send(domain, 'T', {}, { headers: headers as Record<string, string> }),
        ),
        bus.send(domain, 'T', { n: 'after' }, { headers: { ok: 'yes' } }),
      ]);
      cases.forEach(([, path, message], i) => {
        const result = results[i + 1]!;
        expect(result.status, path).toBe('rejected');
        const error = (result as PromiseRejectedResult).reason as ValidationError;
        expect(error, path).toBeInstanceOf(ValidationError);
        expect(error.path).toBe(path);
        expect(error.message).toMatch(message);
      });
      expect(results[0].status).toBe('fulfilled');
      expect(results.at(-1)!.status).toBe('fulfilled');
      expect((await bus.countByState(domain)).pending).toBe(2);

      // a bulk send or a batch is all or nothing: one bad header stores none of it
      const many = Array.from({ length: Math.max(200, COPY_AT_LEAST) }, (_, i) => {
        const headers: Record<string, string> = i === 150 ? { é: 'x' } : { ok: 'yes' };
        return { domain, type: 'T', data: { i }, headers };
      });
      await expect(bus.sendMany(many)).rejects.toThrow(/\[150\] headers\["é"\]/);
      await expect(bus.createBatch({ commands: many })).rejects.toThrow(
        /commands\[150\] headers\["é"\]/,
      );
      await expect(
        bus.createBatch({
          commands: [{ domain, type: 'T', data: {} }],
          onComplete: { domain, type: 'Done', headers: { 'a b': 'x' } },
        }),
      ).rejects.toThrow(/onComplete\.headers\["a b"\]/);
      expect(Object.values(await bus.countByState(domain)).reduce((a, b) => a + b, 0)).toBe(2);
    });
  });
}
