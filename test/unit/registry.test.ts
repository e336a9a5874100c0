import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../../src/backends/pglite/index.js';
import { CommandBus } from '../../src/bus/bus.js';
import { handler } from '../../src/bus/decorators.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { HandlerRegistry } from '../../src/core/registry.js';

const here = path.dirname(fileURLToPath(import.meta.url));

class Mailer {
  constructor(private readonly prefix: string) {}

  @handler('mail', 'Welcome', { maxAttempts: 7 })
  welcome(data: { name: string }) {
    return `${this.prefix} ${data.name}`;
  }

  notAHandler() {
    return 'ignored';
  }
}

// The registry and decorators do no I/O, but a bus needs a backend; PGlite in memory is cheap.
async function newBus() {
  return new CommandBus({
    backend: await createPGliteBackend(),
    logger: pino({ level: 'silent' }),
  });
}

describe('handler registration', () => {
  it('registers decorated methods per instance, bound to their dependencies', async () => {
    const bus = await newBus();
    bus.register(new Mailer('Hello'));
    const registered = bus.registry.get('mail', 'Welcome')!;
    expect(registered.retryPolicy.maxAttempts).toBe(7);
    expect(registered.fn({ name: 'Ada' }, undefined)).toBe('Hello Ada');
    expect(bus.registry.all()).toHaveLength(1);
    expect(() => bus.register({})).toThrow(ConfigurationError);
    await bus.close();
  });

  it('discovers one handler per module in a directory', async () => {
    const bus = await newBus();
    const found = await bus.discover(path.join(here, '../fixtures/handlers'));
    expect(found.sort()).toEqual(['mail/Archive', 'mail/SendEmail']);
    expect(bus.registry.get('mail', 'SendEmail')!.retryPolicy.maxAttempts).toBe(2);
    const bad = await mkdtemp(path.join(tmpdir(), 'dbx-handlers-'));
    await writeFile(path.join(bad, 'broken.mjs'), 'export const domain = "x";\n');
    await expect(bus.discover(bad)).rejects.toThrow(/broken\.mjs is not a handler module.*`type`/);
    await expect(bus.discover(path.join(bad, 'missing'))).rejects.toThrow(
      /cannot read the handler directory/,
    );
    await bus.close();
  });

  it('refuses bad handler options and duplicate registrations clearly', () => {
    const registry = new HandlerRegistry();
    const fn = () => null;
    registry.register('d', 'T', {}, fn);
    expect(() => registry.register('d', 'T', {}, fn)).toThrow(/registered already/);
    expect(() => registry.register('d', 'U', { timeout: 'soon' }, fn)).toThrow(
      /handler d\/U\.timeout/,
    );
    expect(() => registry.register('d', 'V', { maxAttempts: 0 }, fn)).toThrow(
      /maxAttempts must be a whole number/,
    );
    expect(() => registry.register('d', 'W', { concurrency: 0 }, fn)).toThrow(
      /concurrency must be at least 1/,
    );
    expect(() => registry.register('bad domain', 'T', {}, fn)).toThrow(/domain must be/);
    expect(registry.all()).toHaveLength(1);
  });

  it('gives handlers without their own timeout and attempts the defaults, and checks them', () => {
    const fn = () => null;
    const plain = new HandlerRegistry();
    plain.register('d', 'T', {}, fn);
    expect(plain.get('d', 'T')).toMatchObject({
      timeoutMs: 30_000,
      retryPolicy: { maxAttempts: 5 },
    });
    const tuned = new HandlerRegistry({ timeout: '2m', maxAttempts: 9 });
    tuned.register('d', 'T', {}, fn);
    tuned.register('d', 'Own', { timeout: 50, maxAttempts: 1 }, fn);
    expect(tuned.get('d', 'T')).toMatchObject({
      timeoutMs: 120_000,
      retryPolicy: { maxAttempts: 9 },
    });
    expect(tuned.get('d', 'Own')).toMatchObject({ timeoutMs: 50, retryPolicy: { maxAttempts: 1 } });
    expect(() => new HandlerRegistry({ maxAttempts: 0 })).toThrow(ConfigurationError);
    expect(() => new HandlerRegistry({ maxAttempts: 0 })).toThrow(
      /handlerDefaults\.maxAttempts must be a whole number of at least 1; got 0/,
    );
    expect(() => new HandlerRegistry({ timeout: 'soon' })).toThrow(
      /handlerDefaults\.timeout must be/,
    );
  });
});
