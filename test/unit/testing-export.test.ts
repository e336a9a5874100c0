import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTestBus } from '../../src/testing/index.js';
import { runStoreConformance, STORE_ROLES } from '../../src/testing/conformance/index.js';
import { createPGliteBackend } from '../../src/backends/pglite/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The packages a source file loads, following its relative imports (type-only ones left out). */
function packagesLoadedBy(file: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  if (seen.has(file)) return packages;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const [, spec] of source.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gms)) {
    if (spec!.startsWith('.')) {
      const next = resolve(dirname(file), spec!.replace(/\.js$/, '.ts'));
      for (const p of packagesLoadedBy(next, seen)) packages.add(p);
    } else packages.add(spec!);
  }
  return packages;
}

describe('dispatchbox/testing', () => {
  it('shows what application code sent and runs the handlers', async () => {
    const t = await createTestBus();
    const placeOrder = (id: number) => t.bus.send('orders', 'Place', { id });
    await placeOrder(1);
    await placeOrder(2);
    expect((await t.sent({ type: 'Place' })).map((c) => c.data)).toEqual([{ id: 1 }, { id: 2 }]);
    t.bus.handle('orders', 'Place', async (data: { id: number }, ctx) => {
      await ctx.send('mail', 'Confirm', { order: data.id });
    });
    t.bus.handle('mail', 'Confirm', () => 'sent');
    await t.runUntilIdle();
    expect((await t.sent({ domain: 'mail', state: 'completed' })).length).toBe(2);
    await t.close();
  });

  it('loads no test runner: vitest is needed only by dispatchbox/testing/conformance', () => {
    const testing = packagesLoadedBy(resolve(root, 'src/testing/index.ts'));
    expect(testing.has('pino')).toBe(true); // the walk does follow the imports
    expect(testing.has('vitest')).toBe(false);
    expect(packagesLoadedBy(resolve(root, 'src/testing/conformance/index.ts')).has('vitest')).toBe(
      true,
    );
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
      exports: Record<string, { default: string }>;
      peerDependenciesMeta: Record<string, unknown>;
    };
    expect(pkg.exports['./testing/conformance']?.default).toBe(
      './dist/testing/conformance/index.js',
    );
    expect(pkg.peerDependenciesMeta.vitest).toEqual({ optional: true });
  });
});

describe('dispatchbox/testing/conformance', () => {
  it('names the roles it can run when asked for one it does not know, registering nothing', () => {
    const open = () => createPGliteBackend();
    expect(() =>
      runStoreConformance({ name: 'x', open, roles: ['commands', 'queues' as never] }),
    ).toThrow(
      'runStoreConformance: roles must name some of commands, operator, batches, limits, maintenance, samples; got ["commands","queues"]',
    );
    expect(() => runStoreConformance({ name: 'x', open, roles: [] })).toThrow(/roles must name/);
    expect(STORE_ROLES).toEqual([
      'commands',
      'operator',
      'batches',
      'limits',
      'maintenance',
      'samples',
    ]);
  });
});
