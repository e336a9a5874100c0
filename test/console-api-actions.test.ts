/**
 * The console API's actions on every store: send, retry (and edit then retry), cancel and
 * complete one command; a selection; a filter with its count confirmed, run as a job. A
 * bad input is a 400 problem and an action in the wrong state a 409, both changing nothing.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../src/console/types.js';
import { finished, consoleOnStore, troubledCommands } from './helpers/console.js';
import { everyStore } from './helpers/stores.js';

const stores = await everyStore('console_act');
type CommandOut = { id: string; state: string; data: unknown; result: unknown; priority: number };

for (const store of stores) {
  describe.runIf(store.available)(`console API actions: ${store.name}`, () => {
    const consoleOf = consoleOnStore(store);

    const domain = () => `ac-${randomUUID().slice(0, 8)}`;
    const post = <T>(path: string, body: unknown, status = 200) =>
      consoleOf().json<T>(path, { body, status });

    it('sends a command (201) and refuses a bad one with a 400 naming the field, sending nothing', async () => {
      const d = domain();
      const { command } = await post<{ command: CommandOut }>(
        '/api/commands',
        {
          domain: d,
          type: 'mail',
          data: { to: 'a@b.c' },
          priority: 5,
          delay: '1m',
          correlationId: 'k',
        },
        201,
      );
      expect(command).toMatchObject({ state: 'pending', data: { to: 'a@b.c' }, priority: 5 });
      expect((await consoleOf().bus.get(command.id)).correlationId).toBe('k');
      const bad: [unknown, string][] = [
        [{ domain: d, type: 'mail' }, 'data'],
        [{ domain: d, type: 'mail', data: 1, priority: -1 }, 'priority'],
        [{ domain: d, type: 'mail', data: 1, prio: 1 }, 'prio'],
        [{ domain: '', type: 'mail', data: 1 }, 'domain'],
        [{ domain: d, type: 'mail', data: 1, runAt: 'soon' }, 'runAt'],
        [{ domain: d, type: 'mail', data: 1, headers: { 'bad header': 'x' } }, 'headers'],
        [{ domain: 'has space', type: 'mail', data: 1 }, 'domain'],
      ];
      for (const [body, field] of bad) {
        const problem = await post<{ title: string; field: string }>('/api/commands', body, 400);
        expect(problem, JSON.stringify(body)).toMatchObject({ status: 400 });
        expect(problem.field.startsWith(field), problem.field).toBe(true);
        expect(problem.title).toMatch(/ValidationError/);
      }
      const malformed = await consoleOf().call('/api/commands', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: undefined,
      });
      expect(malformed.status).toBe(400);
      expect(await consoleOf().bus.count({ domain: d })).toBe(1);
    });

    it('retries, cancels and completes one command as the user, and 409s in the wrong state, changing nothing', async () => {
      const d = domain();
      const [a, b, c] = await troubledCommands(consoleOf().bus, d, 3);
      const retried = await post<{ command: CommandOut }>(`/api/commands/${a!.id}/retry`, {
        reason: 'fixed',
      });
      expect(retried.command.state).toBe('pending');
      const completed = await post<{ command: CommandOut }>(`/api/commands/${b!.id}/complete`, {
        result: { manual: true },
      });
      expect(completed.command).toMatchObject({ state: 'completed', result: { manual: true } });
      const cancelled = await post<{ command: CommandOut }>(`/api/commands/${c!.id}/cancel`, {});
      expect(cancelled.command.state).toBe('cancelled');
      expect((await consoleOf().bus.audit(a!.id)).at(-1)).toMatchObject({
        actor: 'local',
        reason: 'fixed',
        toState: 'pending',
      });

      // complete applies to troubleshooting only: a is pending now
      const before = await consoleOf().bus.get(a!.id);
      const refused = await post<{ title: string; detail: string }>(
        `/api/commands/${a!.id}/complete`,
        {},
        409,
      );
      expect(refused.title).toBe('InvalidStateError');
      expect(refused.detail).toMatch(/it is pending/);
      const again = await post<{ title: string }>(`/api/commands/${c!.id}/retry`, {}, 409);
      expect(again.title).toBe('InvalidStateError');
      expect(await consoleOf().bus.get(a!.id)).toEqual(before);
      expect((await consoleOf().bus.get(c!.id)).state).toBe('cancelled');

      const unknown = await post<{ title: string }>(
        `/api/commands/${randomUUID()}/cancel`,
        {},
        404,
      );
      expect(unknown.title).toBe('CommandNotFoundError');
      const badBody = await post<{ field: string }>(
        `/api/commands/${a!.id}/cancel`,
        { reason: '' },
        400,
      );
      expect(badBody.field).toBe('reason');
    });

    it('edits the payload then retries, keeping both payloads in the audit', async () => {
      const [command] = await troubledCommands(consoleOf().bus, domain(), 1, {
        data: () => ({ email: 'typo@@x' }),
      });
      const { command: after } = await post<{ command: CommandOut }>(
        `/api/commands/${command!.id}/retry`,
        {
          data: { email: 'fixed@x' },
          reason: 'fixed the address',
        },
      );
      expect(after).toMatchObject({ state: 'pending', data: { email: 'fixed@x' } });
      expect((await consoleOf().bus.audit(command!.id)).at(-1)).toMatchObject({
        actor: 'local',
        details: { dataBefore: { email: 'typo@@x' }, dataAfter: { email: 'fixed@x' } },
      });
    });

    it('applies an action to a selection: the applied ids and the refused ones with why', async () => {
      const d = domain();
      const [a, b] = await troubledCommands(consoleOf().bus, d, 2);
      const pending = await consoleOf().bus.send(d, 'job', {});
      const missing = randomUUID();
      const result = await post<{
        applied: string[];
        refused: { id: string; status: number; title: string }[];
      }>('/api/commands/actions', {
        action: 'retry',
        reason: 'bulk',
        ids: [a!.id, b!.id, pending.id, missing],
      });
      expect(result.applied.sort()).toEqual([a!.id, b!.id].sort());
      expect(result.refused).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: pending.id, status: 409, title: 'InvalidStateError' }),
          expect.objectContaining({ id: missing, status: 404, title: 'CommandNotFoundError' }),
        ]),
      );
      expect((await consoleOf().bus.get(a!.id)).state).toBe('pending');
      for (const [body, field] of [
        [{ action: 'retry', ids: [] }, 'ids'],
        [{ action: 'retry', ids: ['x'] }, 'ids.0'],
        [{ action: 'explode', ids: [a!.id] }, 'action'],
        [{ action: 'retry' }, 'ids'],
        [{ action: 'retry', ids: [a!.id], filter: { domain: d } }, 'ids'],
        [{ action: 'retry', ids: Array.from({ length: 1001 }, () => randomUUID()) }, 'ids'],
      ] as const) {
        expect(
          await post('/api/commands/actions', body, 400),
          JSON.stringify(body).slice(0, 80),
        ).toMatchObject({
          field,
        });
      }
    });

    it('applies an action to a filter only once its count is confirmed, as an audited job', async () => {
      const d = domain();
      const troubled = await troubledCommands(consoleOf().bus, d, 3, { code: 'GATEWAY' });
      await consoleOf().bus.send(d, 'job', {});
      const filter = { domain: d, state: 'troubleshooting' };
      const unconfirmed = await post<{ title: string; count: number; detail: string }>(
        '/api/commands/actions',
        { action: 'cancel', filter },
        409,
      );
      expect(unconfirmed).toMatchObject({ status: 409, count: 3 });
      expect(unconfirmed.detail).toMatch(/matches 3 commands; confirm .*expectedCount: 3/);
      const changed = await post<{ count: number; detail: string }>(
        '/api/commands/actions',
        { action: 'cancel', filter, expectedCount: 2 },
        409,
      );
      expect(changed.count).toBe(3);
      expect(changed.detail).toMatch(/matches 3 commands now, not 2/);
      expect(await consoleOf().bus.count(filter as never)).toBe(3);

      const { job } = await post<{ job: JobSnapshot }>(
        '/api/commands/actions',
        { action: 'cancel', reason: 'gateway gone', filter, expectedCount: 3 },
        202,
      );
      expect(job).toMatchObject({
        kind: 'bulk-action',
        total: 3,
        actor: 'local',
        state: 'running',
      });
      const ended = await finished(consoleOf().jobs, job.id);
      expect(ended).toMatchObject({ state: 'done', done: 3, failed: 0 });
      for (const c of troubled) {
        expect((await consoleOf().bus.get(c.id)).state).toBe('cancelled');
        expect((await consoleOf().bus.audit(c.id)).at(-1)).toMatchObject({
          actor: 'local',
          reason: 'gateway gone',
        });
      }
      expect(await consoleOf().bus.count({ domain: d, state: 'pending' })).toBe(1);
    });
  });
}
