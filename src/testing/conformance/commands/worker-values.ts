import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../../core/command.js';
import { PermanentError } from '../../../core/errors.js';
import { expectState, type SuiteContext } from '../context.js';

/**
 * What a handler returns or throws, whatever its shape: every character kept, text no
 * store can hold refused alike, and values with no usable string form failed readably.
 */
export function workerValueTests(ctx: SuiteContext): void {
  describe('worker: results and errors of any shape', () => {
    it('stores results and errors with every character, control characters included', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const text = 'a\x1fb\x1ec\x01d\n\t"\\ é 😀 \\u0000';
      bus.handle(domain, 'Echo', () => ({ text, list: [text, 1] }));
      bus.handle(domain, 'Refuse', () => {
        throw new PermanentError(`refused: ${text}`, { code: 'REFUSED', details: { text } });
      });
      const echoed = await bus.send(domain, 'Echo', {});
      const refused = await bus.send(domain, 'Refuse', {});
      await ctx.worker(bus);
      await expectState(bus, echoed.id, 'completed');
      await expectState(bus, refused.id, 'troubleshooting');
      expect((await bus.get(echoed.id)).result).toEqual({ text, list: [text, 1] });
      expect((await bus.get(refused.id)).lastError).toEqual({
        code: 'REFUSED',
        message: `refused: ${text}`,
        details: { text },
      });
    });

    it('refuses text no store can hold: sends fail, results and errors still settle', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      await expect(bus.send(domain, 'Echo', { name: 'a\0b' })).rejects.toThrow(
        /data\.name cannot be stored: it holds the character U\+0000/,
      );
      await expect(bus.send(domain, 'Echo', { name: 'a\ud800b' })).rejects.toThrow(
        /data\.name cannot be stored: it holds an unpaired UTF-16 surrogate/,
      );
      expect(await bus.countByState(domain)).toMatchObject({ pending: 0 });
      bus.handle(domain, 'Echo', () => ({ name: 'a\0b' }));
      bus.handle(domain, 'Fail', () => {
        // details typed as JSON, but a JavaScript caller can pass anything
        const details = { n: 1n } as unknown as JsonValue;
        throw new PermanentError('bad\0byte \udc00', { code: 'X\0', details });
      });
      const echoed = await bus.send(domain, 'Echo', {});
      const failed = await bus.send(domain, 'Fail', {});
      await ctx.worker(bus);
      await expectState(bus, echoed.id, 'troubleshooting');
      await expectState(bus, failed.id, 'troubleshooting');
      const echoError = (await bus.get(echoed.id)).lastError;
      expect(echoError?.code).toBe('INVALID_RESULT');
      expect(echoError?.message).toMatch(/result\.name cannot be stored: .*U\+0000/);
      expect((await bus.get(failed.id)).lastError).toEqual({
        code: 'X\uFFFD',
        message: 'bad\uFFFDbyte \uFFFD',
        details: {
          unstorable: expect.stringMatching(/details\.n is not JSON-serialisable/) as unknown,
        },
      });
    });

    it('fails a handler that throws a value with no usable string form with a readable error, and keeps running', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const bus = ctx.bus();
        const domain = ctx.domain();
        const { proxy, revoke } = Proxy.revocable(new Error('revoked'), {});
        revoke();
        const messageThrows = new Error('unused');
        Object.defineProperty(messageThrows, 'message', {
          get() {
            throw new Error('message getter');
          },
        });
        const cyclic: Record<string, unknown> = {};
        cyclic['self'] = cyclic;
        const throwers: Record<string, () => unknown> = {
          NullProto: () => Object.create(null) as unknown,
          ToStringThrows: () => ({
            toString() {
              throw new Error('no text');
            },
          }),
          Revoked: () => proxy,
          MessageThrows: () => messageThrows,
          NumericCode: () => Object.assign(new Error('numeric code'), { code: 42 }),
          Huge: () => new Error('x'.repeat(5_000_000)),
          Cyclic: () => new PermanentError('cyclic', { details: cyclic as JsonValue }),
          DetailsThrow: () =>
            Object.defineProperty(new PermanentError('details getter'), 'details', {
              get() {
                throw Object.create(null);
              },
            }),
        };
        for (const [type, make] of Object.entries(throwers)) {
          bus.handle(domain, type, { maxAttempts: 1 }, () => {
            throw make();
          });
        }
        bus.handle(domain, 'Ok', () => 'still running');
        const sent = await bus.sendMany(
          Object.keys(throwers).map((type) => ({ domain, type, data: {} })),
        );
        const worker = await ctx.worker(bus);
        for (const command of sent) await expectState(bus, command.id, 'troubleshooting');
        for (const command of sent) {
          const { lastError } = await bus.get(command.id);
          expect(typeof lastError?.code, command.type).toBe('string');
          expect(lastError?.message, command.type).toMatch(/\S/);
          expect(lastError!.message.length, command.type).toBeLessThanOrEqual(4001);
        }
        const byType = new Map(
          await Promise.all(
            sent.map(async (c) => [c.type, (await bus.get(c.id)).lastError!] as const),
          ),
        );
        expect(byType.get('NumericCode')).toMatchObject({ code: 'ERROR', message: 'numeric code' });
        expect(byType.get('Cyclic')).toMatchObject({
          code: 'PERMANENT',
          message: 'cyclic',
          details: { unstorable: expect.stringMatching(/cycl/) as unknown },
        });
        expect(byType.get('NullProto')!.message).toMatch(/cannot be turned into text/);
        expect(byType.get('Revoked')!.message).toMatch(/revoked/);
        const ok = await bus.send(domain, 'Ok', {});
        await expectState(bus, ok.id, 'completed');
        await worker.idle();
        expect(worker.stats.troubleshooting).toBe(sent.length);
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });
}
