import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '..');
const run = promisify(execFile);

/** Runs an example as its own process, as a reader would (`npx tsx examples/<name>.ts`). */
async function runExample(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${name}`], {
    cwd: root,
    timeout: 60_000,
    env: { ...process.env, DISPATCHBOX_DATA_DIR: 'memory' },
  });
  return stdout;
}

const expectations: Record<string, (out: string) => void> = {
  'basic.ts': (out) => {
    expect(out).toMatch(/command \S+ is completed after 2 attempts/);
    expect(out).toContain('in_progress -> pending  failed; will retry');
    expect(out).toContain('"completed":2');
  },
  'decorators.ts': (out) => {
    expect(out).toContain('refused at send: data.cents');
    expect(out).toContain('receipt for order A-1 (charge ch_A-1)');
    expect(out).toContain('charge-order A-2 is troubleshooting: OVER_LIMIT');
  },
  'outbox-pglite.ts': (out) => {
    expect(out).toContain('transaction rolled back: payment declined');
    expect(out).toContain('orders: order-1\ncommands: order-1\n');
    expect(out).toContain('completed: 1');
  },
};

describe('examples/ run and exit by themselves', () => {
  const examples = readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.ts'));

  it('include the documented ones', () => {
    expect(examples).toEqual(expect.arrayContaining(Object.keys(expectations)));
  });

  it.each(examples)('%s exits 0', async (name) => {
    const out = await runExample(name);
    expectations[name]?.(out);
  });
});
