import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { createDispatchbox } from '../../src/index.js';
import { ValidationError } from '../../src/core/errors.js';

/** Modules imported at load time (not `import type`, not `await import()`) from `file`, transitively. */
function loadedAtImport(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  for (const node of source.statements) {
    const isImport = ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly;
    const isExport = ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier;
    if (!isImport && !isExport) continue;
    const specifier = (node.moduleSpecifier as ts.StringLiteral).text;
    if (!specifier.startsWith('.')) seen.add(specifier);
    else loadedAtImport(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')), seen);
  }
  return seen;
}

describe('zod is loaded on first use', () => {
  it('is not imported when the library loads, only by the lazy loader', () => {
    const loaded = loadedAtImport(resolve(import.meta.dirname, '../../src/index.ts'));
    expect(loaded.has(resolve(import.meta.dirname, '../../src/core/send-options.ts'))).toBe(true);
    expect([...loaded].filter((m) => m === 'zod' || m.startsWith('zod/'))).toEqual([]);
  });

  it('still validates send options and rate limits once loaded', async () => {
    const bus = await createDispatchbox({ dataDir: 'memory' });
    try {
      await expect(bus.send('lazy', 'T', {}, { priority: -1 })).rejects.toThrow(ValidationError);
      expect(() =>
        bus.handle('lazy', 'T', { rateLimit: { key: 'api', limit: 0, per: '1s' } }, () => {}),
      ).toThrow(/rateLimit.limit must be a whole number of at least 1/);
      expect(() => bus.handle('lazy', 'U', { globalConcurrency: 1.5 }, () => {})).toThrow(
        /globalConcurrency must be a whole number/,
      );
      const sent = await bus.send('lazy', 'T', {}, { priority: 7 });
      expect(sent.priority).toBe(7);
    } finally {
      await bus.close();
    }
  });
});
