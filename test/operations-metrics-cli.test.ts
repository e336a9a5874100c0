/**
 * `dispatchbox worker` serves Prometheus metrics on /metrics: scraped over HTTP during a
 * drain on PostgreSQL and after it, its counters, histogram and queue gauges agree with
 * what the store says; SIGTERM then stops the worker with exit 0.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandBus } from '../src/bus/bus.js';
import { createDispatchbox } from '../src/create.js';
import { waitUntil } from './fixtures/wait-until.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, freePort, requireServer } from './helpers/servers.js';

const root = path.join(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-metrics-cli-'));
const schema = uniqueSchema('metrics_cli');
const postgresUp = await requireServer('PostgreSQL (metrics of dispatchbox worker)', 5432);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (postgresUp) await dropSchema(POSTGRES_URL, schema);
});

const COMPLETING = 240;
const FAILING = 40;

/** Work of 10 ms each, one attempt; a command whose data says so fails (to troubleshooting). */
function writeHandlers(): string {
  const handlers = path.join(dir, 'handlers');
  mkdirSync(handlers, { recursive: true });
  writeFileSync(
    path.join(handlers, 'meter-reading.ts'),
    `export const domain = 'metering';
export const type = 'meter-reading';
export const options = { maxAttempts: 1 };
export async function handle(data: { fail: boolean }) {
  await new Promise((r) => setTimeout(r, 10));
  if (data.fail) throw new Error('meter not found');
  return { read: true };
}
`,
  );
  return handlers;
}

/** One sample's value from the Prometheus text, summed over the series that match `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = new Map<string, string>();
    for (const m of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) series.set(m[1]!, m[2]!);
    if (Object.entries(labels).every(([k, v]) => series.get(k) === v)) sum += Number(match[3]);
  }
  return sum;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

describe.runIf(postgresUp)('dispatchbox worker /metrics on PostgreSQL', () => {
  it('counts a drain as the store does, during the drain and after it', async () => {
    const bus: CommandBus = await createDispatchbox({
      databaseUrl: POSTGRES_URL,
      schema,
      migrate: true,
      env: {},
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--handlers', writeHandlers()],
      {
        cwd: root,
        env: {
          ...process.env,
          DISPATCHBOX_DATABASE_URL: POSTGRES_URL,
          DISPATCHBOX_SCHEMA: schema,
          DISPATCHBOX_HEALTH_PORT: String(port),
          DISPATCHBOX_CONCURRENCY: '4',
          DISPATCHBOX_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitUntil(
        async () => (await fetch(`${url}/ready`).catch(() => null))?.status === 200,
        60_000,
        `/ready is 200 (${output})`,
      );
      await bus.sendMany(
        Array.from({ length: COMPLETING + FAILING }, (_, i) => ({
          domain: 'metering',
          type: 'meter-reading',
          data: { fail: i < FAILING },
        })),
      );

      // During the drain: some done, some still waiting, and never more counted than stored.
      let during = '';
      await waitUntil(
        async () => {
          during = await scrape(url);
          return sample(during, 'dispatchbox_commands_processed_total') > 0;
        },
        30_000,
        'the first outcomes are counted',
      );
      const storedAfterScrape = await bus.counts('metering');
      const stored = (state: string) =>
        storedAfterScrape.filter((c) => c.state === state).reduce((n, c) => n + c.count, 0);
      expect(stored('pending') + stored('running')).toBeGreaterThan(0);
      expect(
        sample(during, 'dispatchbox_commands_processed_total', { outcome: 'completed' }),
      ).toBeLessThanOrEqual(stored('completed'));
      expect(
        sample(during, 'dispatchbox_commands_processed_total', { outcome: 'troubleshooting' }),
      ).toBeLessThanOrEqual(stored('troubleshooting'));
      expect(
        sample(during, 'dispatchbox_commands', { domain: 'metering', state: 'pending' }) +
          sample(during, 'dispatchbox_commands', { domain: 'metering', state: 'running' }),
      ).toBeGreaterThan(0);

      // After it: the counters equal the store's counts, the histogram counts every attempt.
      await waitUntil(
        async () => {
          const counts = await bus.counts('metering');
          const done = counts
            .filter((c) => c.state === 'completed' || c.state === 'troubleshooting')
            .reduce((n, c) => n + c.count, 0);
          return done === COMPLETING + FAILING;
        },
        120_000,
        'the drain is over',
      );
      const counts = await bus.counts('metering');
      const count = (state: string) => counts.find((c) => c.state === state)?.count ?? 0;
      expect(count('completed')).toBe(COMPLETING);
      expect(count('troubleshooting')).toBe(FAILING);
      const after = await scrape(url);
      const series = { domain: 'metering', type: 'meter-reading' };
      expect(
        sample(after, 'dispatchbox_commands_processed_total', { ...series, outcome: 'completed' }),
      ).toBe(count('completed'));
      expect(
        sample(after, 'dispatchbox_commands_processed_total', {
          ...series,
          outcome: 'troubleshooting',
        }),
      ).toBe(count('troubleshooting'));
      expect(sample(after, 'dispatchbox_commands_processed_total', series)).toBe(
        COMPLETING + FAILING,
      );
      expect(sample(after, 'dispatchbox_troubleshooting_total', series)).toBe(FAILING);
      expect(sample(after, 'dispatchbox_processing_duration_seconds_count', series)).toBe(
        COMPLETING + FAILING,
      );
      expect(sample(after, 'dispatchbox_batch_size_sum', { domain: 'metering' })).toBe(
        COMPLETING + FAILING,
      );
      expect(sample(after, 'dispatchbox_commands_in_flight', series)).toBe(0);
      expect(sample(after, 'dispatchbox_commands', { ...series, state: 'completed' })).toBe(
        count('completed'),
      );
      expect(sample(after, 'dispatchbox_worker_health')).toBe(1);
      expect(
        sample(after, 'dispatchbox_db_connection_pool_size', { state: 'total' }),
      ).toBeGreaterThan(0);
      // No series names a command: the label values are bounded.
      expect(after).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);

      child.kill('SIGTERM');
      expect(await exited, output).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await bus.close();
    }
  }, 240_000);
});
