import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv } from 'ajv';
import ms from 'ms';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// deploy/compose.yaml against the Compose Specification's JSON schema,
// then what the services must do together. No container engine is needed.
const DEPLOY = path.resolve('deploy');
const require = createRequire(import.meta.url);
// dclint's copy of the Compose Specification schema (draft-07; dclint's own rules are not used).
const schemaFile = path.join(
  path.dirname(require.resolve('dclint/package.json')),
  'schemas/compose.schema.json',
);
const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
// It names draft-07 by an https address Ajv does not know it by; Ajv is that draft. Formats
// such as `duration` are left to the engine.
delete schema.$schema;
const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(
  schema,
);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  read_only?: boolean;
  cap_drop?: string[];
  profiles?: string[];
  ports?: string[];
}
const load = (text: string) =>
  parse(text, { merge: true }) as { services: Record<string, Service> };
const text = readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8');
const compose = load(text);
const errors = (doc: unknown) =>
  validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

describe('deploy/compose.yaml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(errors(compose)).toEqual([]);
  });

  it('the schema check refuses a misspelt key', () => {
    const broken = load(text.replace('stop_grace_period:', 'stop_grace_periode:'));
    expect(errors(broken).join('\n')).toMatch(/must NOT have additional properties/);
  });

  it('runs PostgreSQL, Redis, a one-shot migrate, scalable workers, the console and Prometheus', () => {
    const { services } = compose;
    expect(Object.keys(services).sort()).toEqual([
      'console',
      'migrate',
      'postgres',
      'prometheus',
      'redis',
      'relay',
      'stream-handlers',
      'stream-resources',
      'worker',
      'worker-redis',
    ]);
    expect(services.migrate?.command).toEqual(['migrate']);
    expect(services.migrate?.depends_on?.postgres?.condition).toBe('service_healthy');
    const worker = services.worker!;
    expect(worker.command).toEqual(['worker']);
    expect(worker.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(worker.depends_on?.migrate?.condition).toBe('service_completed_successfully');
    expect(worker.environment?.DISPATCHBOX_DATABASE_URL).toMatch(
      /^postgres:\/\/.+@postgres:5432\//,
    );
    // Compose sends SIGKILL after stop_grace_period: the drain must fit inside it.
    const drainMs = Number(worker.environment?.DISPATCHBOX_SHUTDOWN_TIMEOUT_MS);
    expect(ms(worker.stop_grace_period as ms.StringValue)).toBeGreaterThan(drainMs);
    expect(services['worker-redis']?.environment?.DISPATCHBOX_DATABASE_URL).toBe(
      'redis://redis:6379',
    );
    expect(services['worker-redis']?.profiles).toEqual(['redis']);
    // listening beyond loopback, the console needs a token: Compose refuses to start without one
    const consoleService = services.console!;
    expect(consoleService.command).toEqual(['console']);
    expect(consoleService.environment?.DISPATCHBOX_CONSOLE_HOST).toBe('0.0.0.0');
    expect(consoleService.environment?.DISPATCHBOX_CONSOLE_TOKEN).toMatch(
      /^\$\{DISPATCHBOX_CONSOLE_TOKEN:\?.+\}$/,
    );
    expect(consoleService.ports).toEqual(['127.0.0.1:3000:3000']);
  });

  it('workers and migrate share the image, hardened; the files they mount exist', () => {
    const { services } = compose;
    for (const name of [
      'migrate',
      'worker',
      'worker-redis',
      'console',
      'stream-handlers',
      'stream-resources',
      'relay',
    ]) {
      expect(services[name]).toMatchObject({ image: 'dispatchbox:local', read_only: true });
      expect(services[name]?.cap_drop).toEqual(['ALL']);
    }
    const mounted = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      // ${VAR:-default} as Compose reads it with VAR unset, then the source part.
      .map((v) => v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').split(':')[0]!)
      .filter((source) => source.startsWith('./'));
    expect(mounted).toContain('./handlers');
    expect(mounted).toContain('./stream-handlers');
    for (const source of mounted) expect(existsSync(path.join(DEPLOY, source))).toBe(true);
    const prometheus: unknown = parse(
      readFileSync(path.join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8'),
    );
    expect(JSON.stringify(prometheus)).toContain('"names":["worker"]');
  });

  it('the streams profile: every stream module in one service, one alone, and the relay', async () => {
    const { services } = compose;
    const handlers = services['stream-handlers']!;
    const resources = services['stream-resources']!;
    const relay = services.relay!;
    expect(handlers.command).toEqual(['streams']);
    // the per-handler form names the stream and group of a module that exists
    expect(resources.command).toEqual([
      'streams',
      '--stream',
      'resources:commands',
      '--group',
      'resources_handler_group',
    ]);
    const example = (await import(path.join(DEPLOY, 'stream-handlers/resources.mjs'))) as {
      stream: string;
      group: string;
      handle: unknown;
    };
    expect([example.stream, example.group, typeof example.handle]).toEqual([
      'resources:commands',
      'resources_handler_group',
      'function',
    ]);
    expect(relay.command).toEqual(['relay']);
    for (const service of [handlers, resources, relay]) {
      expect(service.profiles).toEqual(['streams']);
      // Redis Streams on the compose's Redis; the store (commands, dedup, the outbox) on PostgreSQL
      expect(service.environment?.DISPATCHBOX_STREAMS_URL).toBe('redis://redis:6379');
      expect(service.environment?.DISPATCHBOX_DATABASE_URL).toMatch(
        /^postgres:\/\/.+@postgres:5432\//,
      );
      expect(service.depends_on?.redis?.condition).toBe('service_healthy');
      expect(service.depends_on?.migrate?.condition).toBe('service_completed_successfully');
      const drainMs = Number(service.environment?.DISPATCHBOX_SHUTDOWN_TIMEOUT_MS);
      expect(drainMs).toBeGreaterThan(0);
      expect(ms(service.stop_grace_period as ms.StringValue)).toBeGreaterThan(drainMs);
      // health comes from the image's HEALTHCHECK on its health port: neither is turned off
      expect(service.environment?.DISPATCHBOX_HEALTH_PORT).toBeUndefined();
    }
    for (const service of [handlers, resources]) {
      expect(service.volumes).toEqual([
        '${DISPATCHBOX_STREAM_HANDLERS:-./stream-handlers}:/app/stream-handlers:ro',
      ]);
    }
  });
});
