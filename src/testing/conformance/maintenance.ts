/**
 * The schema and maintenance role (src/backends/roles/maintenance.ts): migrations that can
 * run again, the schema check, retention, and tidy.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CommandNotFoundError } from '../../core/errors.js';
import { expectState, type SuiteContext } from './context.js';

export function maintenanceTests(ctx: SuiteContext): void {
  describe('schema and maintenance', () => {
    it('migrates again, also from several callers at once, keeping what was stored; the schema checks', async () => {
      const bus = ctx.bus();
      const sent = await bus.send(ctx.domain(), 'T', { kept: true });
      await Promise.all([ctx.backend.migrate(), ctx.backend.migrate(), ctx.backend.migrate()]);
      await ctx.backend.checkSchema();
      expect((await bus.get(sent.id)).data).toEqual({ kept: true });
    });

    it('answers a ping, also many at once', async () => {
      await ctx.backend.ping();
      await Promise.all(Array.from({ length: 20 }, () => ctx.backend.ping()));
    });

    it('tidies, when the store has tidy, with nothing to do and again at once', async () => {
      await ctx.backend.tidy?.();
      await ctx.backend.tidy?.();
      // and the store still answers
      expect(await ctx.backend.getCommand(randomUUID())).toBeNull();
    });

    it('prunes completed and cancelled commands past retention with their audit, and nothing else', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(domain, 'T', () => 'ok');
      const done = await bus.send(domain, 'T', {});
      await ctx.worker(bus);
      await expectState(bus, done.id, 'completed');
      const waiting = await bus.send(domain, 'T', {}, { delay: '1h' });
      await new Promise((r) => setTimeout(r, 20));
      for (;;) if ((await ctx.backend.prune({ olderThanMs: 10, limit: 1000 })) < 1000) break;
      await expect(bus.get(done.id)).rejects.toBeInstanceOf(CommandNotFoundError);
      expect(await ctx.backend.getAudit(done.id)).toEqual([]);
      expect((await bus.get(waiting.id)).state).toBe('pending');
    });
  });
}
