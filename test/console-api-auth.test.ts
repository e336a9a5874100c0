/**
 * The console API's auth and safety: bearer tokens and Basic users with their roles, no
 * auth only on loopback without credentials, the viewer refused every action, CSRF checks
 * on unsafe methods; a refused request changes nothing in the store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import {
  createConsole,
  hashPassword,
  parseConsoleUsers,
  verifyPassword,
} from '../src/console/index.js';
import { ConfigurationError } from '../src/core/errors.js';
import { CommandBus } from '../src/bus/bus.js';
import {
  openConsole,
  OPERATOR_TOKEN,
  troubledCommands,
  VIEWER_TOKEN,
  type ConsoleUnderTest,
} from './helpers/console.js';
import { everyStore } from './helpers/stores.js';

const stores = await everyStore('console_auth');
const basic = (name: string, password: string) =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

describe('console passwords', () => {
  it('hashes with scrypt and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$65536\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsE', hash)).toBe(false);
    expect(await hashPassword('correct horse')).not.toBe(hash); // salted
  });

  it('parses DISPATCHBOX_CONSOLE_USERS and names a bad entry without showing its hash', async () => {
    const hash = await hashPassword('pw');
    expect(parseConsoleUsers(`ann:operator:${hash}, bob:viewer:${hash}`)).toEqual([
      { name: 'ann', role: 'operator', passwordHash: hash },
      { name: 'bob', role: 'viewer', passwordHash: hash },
    ]);
    expect(() => parseConsoleUsers(`ann:operator:${hash},bob:admin:${hash}`)).toThrow(
      /DISPATCHBOX_CONSOLE_USERS: entry 2 \(bob\): the role must be operator or viewer/,
    );
    const bad = () => parseConsoleUsers('ann:operator:plain-password');
    expect(bad).toThrow(/entry 1 \(ann\): the password hash is not an scrypt hash/);
    expect(bad).not.toThrow(/plain-password/);
  });
});

for (const store of stores) {
  describe.runIf(store.available)(`console auth: ${store.name}`, () => {
    let backend: Backend;
    let api: ConsoleUnderTest;
    let ann: string;
    let bob: string;

    beforeAll(async () => {
      backend = await store.open();
      const hash = await hashPassword('ann-password');
      const users = parseConsoleUsers(
        `ann:operator:${hash},bob:viewer:${await hashPassword('bob-password')}`,
      );
      [ann, bob] = [basic('ann', 'ann-password'), basic('bob', 'bob-password')];
      api = await openConsole(backend, {
        auth: { token: OPERATOR_TOKEN, viewerToken: VIEWER_TOKEN, users },
        host: '127.0.0.1',
      });
    });
    afterAll(async () => {
      await api.close();
      await store.destroy(backend);
      await backend.close();
    });

    /** A command in troubleshooting: every action applies to it. */
    const troubled = async () =>
      (await troubledCommands(api.bus, `auth-${randomUUID().slice(0, 8)}`))[0]!;

    it('answers 401 without credentials or with wrong ones, naming how to authenticate', async () => {
      for (const headers of [
        {} as Record<string, string>,
        { authorization: 'Bearer wrong-token-0123456789' },
        { authorization: basic('ann', 'nope') },
      ]) {
        const response = await api.call('/api/overview', { headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
        const problem = (await response.json()) as { title: string; detail: string };
        expect(problem.title).toBe('Unauthorized');
        expect(problem.detail).toMatch(/Authorization: Bearer/);
        expect(problem.detail).not.toContain(OPERATOR_TOKEN);
      }
    });

    it('offers Basic to curl and address bars, never to the page (no browser prompt)', async () => {
      const curl = await api.call('/api/me');
      expect(curl.headers.get('www-authenticate')).toMatch(/Basic realm="dispatchbox console"/);
      const page = await api.call('/api/me', { headers: { 'sec-fetch-mode': 'cors' } });
      expect(page.status).toBe(401);
      expect(page.headers.get('www-authenticate')).not.toMatch(/Basic/);
    });

    it('knows the operator and viewer tokens and the Basic users, with their roles', async () => {
      const me = (init: Parameters<ConsoleUnderTest['json']>[1]) => api.json('/api/me', init);
      expect(await me({ token: OPERATOR_TOKEN })).toEqual({
        user: { name: 'operator', role: 'operator' },
        authRequired: true,
      });
      expect(await me({ token: VIEWER_TOKEN })).toEqual({
        user: { name: 'viewer', role: 'viewer' },
        authRequired: true,
      });
      expect(await me({ headers: { authorization: ann } })).toMatchObject({
        user: { name: 'ann', role: 'operator' },
      });
      expect(await me({ headers: { authorization: bob } })).toMatchObject({
        user: { name: 'bob', role: 'viewer' },
      });
      // the API's document is behind the credentials too
      expect((await api.call('/api/openapi.json')).status).toBe(401);
    });

    it('refuses the viewer every action (403) and changes nothing', async () => {
      const command = await troubled();
      const viewers = [{ token: VIEWER_TOKEN }, { headers: { authorization: bob } }];
      const actions: [string, unknown][] = [
        ['/api/commands', { domain: command.domain, type: 'job', data: {} }],
        [`/api/commands/${command.id}/retry`, {}],
        [`/api/commands/${command.id}/cancel`, {}],
        [`/api/commands/${command.id}/complete`, { result: 1 }],
        ['/api/commands/actions', { action: 'cancel', ids: [command.id] }],
        [
          '/api/commands/actions',
          { action: 'cancel', filter: { domain: command.domain }, expectedCount: 1 },
        ],
      ];
      for (const who of viewers) {
        for (const [path, body] of actions) {
          const response = await api.call(path, { ...who, body });
          expect(response.status, path).toBe(403);
          expect(((await response.json()) as { detail: string }).detail).toMatch(
            /viewer role, which reads only/,
          );
        }
      }
      expect(await api.bus.get(command.id)).toEqual(command);
      expect(await api.bus.count({ domain: command.domain })).toBe(1);
    });

    it('records the authenticated user as the actor of an action', async () => {
      const command = await troubled();
      await api.json(`/api/commands/${command.id}/cancel`, {
        headers: { authorization: ann },
        body: { reason: 'duplicate' },
      });
      const audit = await api.bus.audit(command.id);
      expect(audit.at(-1)).toMatchObject({
        actor: 'ann',
        reason: 'duplicate',
        toState: 'cancelled',
      });
    });

    it('refuses an unsafe request from another origin or without a JSON body, and changes nothing', async () => {
      const command = await troubled();
      const path = `/api/commands/${command.id}/cancel`;
      const crossSite = await api.call(path, {
        token: OPERATOR_TOKEN,
        body: {},
        headers: { origin: 'https://evil.example', host: '127.0.0.1:3000' },
      });
      expect(crossSite.status).toBe(403);
      expect(((await crossSite.json()) as { detail: string }).detail).toMatch(
        /cross-site request refused: Origin https:\/\/evil.example/,
      );
      const form = await api.call(path, {
        token: OPERATOR_TOKEN,
        body: {},
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.status).toBe(415);
      expect(await api.bus.get(command.id)).toEqual(command);
      // the same origin (as the browser saw it, through a proxy) is fine
      await api.json(path, {
        token: OPERATOR_TOKEN,
        body: {},
        headers: {
          origin: 'https://ops.example',
          host: 'internal:3000',
          'x-forwarded-host': 'ops.example',
        },
      });
      expect((await api.bus.get(command.id)).state).toBe('cancelled');
    });
  });
}

describe('console auth configuration', () => {
  const bus = new CommandBus({ backend: {} as never });

  it('refuses to start beyond loopback without credentials, naming the variables', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'console.internal']) {
      expect(() => createConsole(bus, { host, jobs: {} as never })).toThrow(ConfigurationError);
      expect(() => createConsole(bus, { host, jobs: {} as never })).toThrow(
        /no credentials are configured: set DISPATCHBOX_CONSOLE_TOKEN .* or DISPATCHBOX_CONSOLE_USERS/,
      );
    }
    expect(() =>
      createConsole(bus, { host: '0.0.0.0', auth: { token: OPERATOR_TOKEN }, jobs: {} as never }),
    ).not.toThrow();
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]'])
      expect(() => createConsole(bus, { host, jobs: {} as never })).not.toThrow();
  });

  it('refuses a short token and one shared by both roles, without showing them', () => {
    expect(() => createConsole(bus, { auth: { token: 'short' }, jobs: {} as never })).toThrow(
      /auth.token \(DISPATCHBOX_CONSOLE_TOKEN\) must be at least 16 characters without spaces \(the value is not shown\)/,
    );
    expect(() =>
      createConsole(bus, {
        auth: { token: OPERATOR_TOKEN, viewerToken: OPERATOR_TOKEN },
        jobs: {} as never,
      }),
    ).toThrow(/are the same; give the viewer a token of its own/);
  });

  it('without credentials, on loopback, everyone is the local operator, but only at a loopback host', async () => {
    const open = createConsole(bus, { jobs: {} as never });
    const me = await open.fetch(
      new Request('http://127.0.0.1:3000/api/me', { headers: { host: '127.0.0.1:3000' } }),
    );
    expect(await me.json()).toEqual({
      user: { name: 'local', role: 'operator' },
      authRequired: false,
    });
    // a page of another site whose name resolves to 127.0.0.1 (DNS rebinding) is refused
    const rebound = await open.fetch(
      new Request('http://127.0.0.1:3000/api/me', { headers: { host: 'evil.example:3000' } }),
    );
    expect(rebound.status).toBe(403);
    expect(((await rebound.json()) as { detail: string }).detail).toMatch(
      /addressed to a loopback host/,
    );
  });

  it('needs the credentials on loopback too once they are set', async () => {
    const closed = createConsole(bus, {
      host: '127.0.0.1',
      auth: { token: OPERATOR_TOKEN },
      jobs: {} as never,
    });
    expect((await closed.fetch(new Request('http://127.0.0.1/api/me'))).status).toBe(401);
  });
});
