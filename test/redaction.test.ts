import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { runCli } from '../src/cli/program.js';
import { loadConfig } from '../src/config/index.js';
import { redactSecrets } from '../src/core/redact.js';
import { createDispatchbox } from '../src/create.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { deletePrefix, REDIS_TEST_DB } from './helpers/redis.js';
import { reachable } from './helpers/servers.js';

const serversUp = (await reachable(5432)) && (await reachable(6379));

/** Every secret below contains this; no output may. */
const SECRET = 'S3cr';

/** Each form a credential takes in a URL, with the host left for the test to fill in. */
const FORMS: [string, (host: string) => string][] = [
  ['user:password@', (h) => `postgres://postgres:S3cret@${h}/test`],
  ["a password with '/'", (h) => `postgres://postgres:S3cr/et@${h}/test`],
  ["a password with '@'", (h) => `postgres://postgres:S3cr@et@${h}/test`],
  ["a password with ':'", (h) => `postgres://postgres:S3cr:et@${h}/test`],
  ["a password with '%2F'", (h) => `postgres://postgres:S3cr%2Fet@${h}/test`],
  ['?password=', (h) => `postgres://postgres@${h}/test?password=S3cret`],
  ['&password=', (h) => `postgres://postgres@${h}/test?application_name=x&password=S3cret`],
  ['?pass= (Redis)', (h) => `redis://${h}/${REDIS_TEST_DB}?pass=S3cret`],
  ['redis://:pw@', (h) => `redis://:S3cret@${h}/${REDIS_TEST_DB}`],
  ['rediss://:pw@', (h) => `rediss://:S3cret@${h}/${REDIS_TEST_DB}`],
  ['a mistyped scheme', (h) => `postgress://postgres:S3cret@${h}/test`],
  ['a scheme without its colon', (h) => `postgres//postgres:S3cret@${h}/test`],
  ['a scheme with one slash', (h) => `postgres:/postgres:S3cret@${h}/test`],
  ['an unparsable port', () => `postgres://postgres:S3cret@127.0.0.1:99999999/test`],
  ['a key-value string', (h) => `host=${h} password=S3cret`],
];

const hostFor = (url: string) => (/redis/.test(url) ? '127.0.0.1:6379' : '127.0.0.1:5432');
const withHost = (form: (h: string) => string) => {
  const probe = form('HOST');
  return form(hostFor(probe));
};

function messageOf(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

async function rejection(promise: Promise<{ close(): Promise<void> }>): Promise<string> {
  return promise.then(
    async (opened) => {
      await opened.close();
      return '';
    },
    (error: unknown) => (error as Error).message,
  );
}

describe('credentials never appear in what Dispatchbox prints', () => {
  it.each(FORMS)('redactSecrets hides %s', (_form, url) => {
    const text = `failed on ${url('127.0.0.1:5432')} (and "${url('h')}")`;
    const redacted = redactSecrets(text);
    expect(redacted).not.toContain(SECRET);
    expect(redacted).toContain('***');
  });

  it.each(FORMS)('the configuration check hides %s', (_form, form) => {
    const url = withHost(form);
    const message = messageOf(() => loadConfig({ env: { DISPATCHBOX_DATABASE_URL: url } }));
    expect(message).not.toContain(SECRET);
  });

  it.each(FORMS)('createDispatchbox’s refusals hide %s', async (_form, form) => {
    const url = form('127.0.0.1:1');
    const message = await rejection(
      createDispatchbox({
        databaseUrl: url,
        env: {},
        connectTimeoutMs: 200,
        logger: pino({ level: 'silent' }),
      }),
    );
    expect(message).not.toContain(SECRET);
  });

  it.each(FORMS.filter(([, f]) => f('h').startsWith('postgres://')))(
    'the unreachable-server error hides %s',
    async (_form, form) => {
      const message = await rejection(
        createPostgresBackend({ connectionString: form('127.0.0.1:1'), connectTimeoutMs: 200 }),
      );
      expect(message).toMatch(/could not reach PostgreSQL at 127\.0\.0\.1:1\/test|not a valid URL/);
      expect(message).not.toContain(SECRET);
    },
  );

  it.each(FORMS.filter(([, f]) => f('h').startsWith('redis')))(
    'the Redis connection errors hide %s',
    async (_form, form) => {
      const message = await rejection(
        createRedisBackend({ url: form('127.0.0.1:1'), connectTimeoutMs: 200 }),
      );
      expect(message).toMatch(/could not reach Redis at rediss?:\/\/127\.0\.0\.1:1\//);
      expect(message).not.toContain(SECRET);
    },
  );

  describe.runIf(serversUp)('the CLI banners and errors', () => {
    const schemas: string[] = [];
    afterAll(async () => {
      for (const s of schemas) {
        await dropSchema('postgres://postgres@127.0.0.1:5432/test', s);
        await deletePrefix(s); // the Redis forms' keys (the schema is their prefix)
      }
    });

    async function cli(args: string[], url: string, schema: string): Promise<string> {
      const printed: string[] = [];
      await runCli(args, {
        env: {
          DISPATCHBOX_DATABASE_URL: url,
          DISPATCHBOX_SCHEMA: schema,
          DISPATCHBOX_DEMO_COUNT: '0',
          DISPATCHBOX_DEMO_DURATION: '1',
          DISPATCHBOX_CONSOLE_PORT: '0',
          DISPATCHBOX_LOG_LEVEL: 'silent',
        },
        out: (t) => printed.push(t),
        err: (t) => printed.push(t),
        isTTY: false,
      });
      return printed.join('\n');
    }

    // rediss:// would wait for a TLS handshake the shared server never answers.
    it.each(FORMS.filter(([, f]) => !f('h').startsWith('rediss')))(
      '`migrate` and `start` hide %s',
      async (_form, form) => {
        const url = withHost(form);
        const schema = uniqueSchema('redact');
        schemas.push(schema);
        // start on a schema not yet migrated: the banner, then the schema error
        const started = await cli(['start'], url, schema);
        const migrated = await cli(['migrate'], url, schema);
        for (const printed of [started, migrated]) {
          expect(printed).not.toContain(SECRET);
        }
      },
      60_000,
    );
  });
});
