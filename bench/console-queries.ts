/**
 * The console's reads against a large retained history, timed one after another (an
 * operator's page load, not a load test): the overview, a page of commands under each
 * filter, the troubleshooting groups. Through the library's calls (what the API's routes
 * call) or through the HTTP API itself, the same cases either way.
 */
import type { CommandBus, ListParams } from '../src/bus/bus.js';
import type { Command } from '../src/core/command.js';
import { DOMAINS, TYPES } from './console-fill.js';
import { percentile } from './stats.js';

export interface Timing {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

export interface QueryResult {
  name: string;
  target: string;
  timing: Timing;
  /** Rows (commands, groups) the last call returned. */
  rows: number;
  /** Why the answer is not what the filter asks for, when it is not (a store without it). */
  wrong?: string;
}

/**
 * Times `fn` `reps` times after `warmup` untimed calls, one at a time. A slow case stops
 * early, once it has `budgetMs` of samples and at least five of them (its n says so): a
 * store without an index for it takes seconds a call.
 */
export async function timeIt(
  fn: (rep: number) => Promise<unknown>,
  reps: number,
  warmup = 3,
  budgetMs = 20_000,
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) {
    const began = performance.now();
    await fn(i);
    if (performance.now() - began > 1000) break;
  }
  const samples: number[] = [];
  const began = performance.now();
  for (let i = 0; i < reps; i++) {
    if (samples.length >= 5 && performance.now() - began > budgetMs) break;
    const start = performance.now();
    await fn(i);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    max: samples.at(-1) ?? Number.NaN,
    n: samples.length,
  };
}

/** A filter as the API's query string takes it (FilterQuery), varied by repetition. */
export type FilterCase = (rep: number) => Record<string, string>;

export interface Known {
  /** A batch id and a correlation id that exist. */
  batchId: string;
  correlationId: string;
  /** A time a 144th of the history before its newest command (an hour of six days). */
  recent: Date;
  /** A time half way through the history. */
  midway: Date;
}

const domain = (rep: number) => DOMAINS[rep % DOMAINS.length]!;
const type = (rep: number) => TYPES[Math.floor(rep / DOMAINS.length) % TYPES.length]!;

/** The filtered pages measured: state and domain, then each other filter with them. */
export function filterCases(known: Known): [string, FilterCase][] {
  return [
    ['state=completed&domain', (r) => ({ state: 'completed', domain: domain(r) })],
    ['+type', (r) => ({ state: 'completed', domain: domain(r), type: type(r) })],
    ['state=pending&domain', (r) => ({ state: 'pending', domain: domain(r) })],
    ['state=cancelled&domain', (r) => ({ state: 'cancelled', domain: domain(r) })],
    [
      'state=troubleshooting&domain&type',
      (r) => ({ state: 'troubleshooting', domain: domain(r), type: type(r) }),
    ],
    [
      'state=troubleshooting&errorCode',
      (r) => ({ state: 'troubleshooting', errorCode: r % 2 ? 'TIMEOUT' : 'UNKNOWN' }),
    ],
    [
      '+errorCode (completed: none match)',
      (r) => ({ state: 'completed', domain: domain(r), errorCode: 'TIMEOUT' }),
    ],
    ['batchId', () => ({ batchId: known.batchId })],
    ['state=completed&batchId', () => ({ state: 'completed', batchId: known.batchId })],
    ['correlationId', () => ({ correlationId: known.correlationId })],
    [
      'state=completed&domain&createdAfter (newest 1/144)',
      (r) => ({
        state: 'completed',
        domain: domain(r),
        createdAfter: known.recent.toISOString(),
      }),
    ],
    [
      'state=completed&domain&createdBefore (first half)',
      (r) => ({
        state: 'completed',
        domain: domain(r),
        createdBefore: known.midway.toISOString(),
      }),
    ],
    ['no filter', () => ({})],
  ];
}

/** The filter as the library's list takes it. */
export function toListParams(query: Record<string, string>): ListParams {
  const { createdAfter, createdBefore, ...rest } = query;
  return {
    ...(rest as ListParams),
    createdAfter: createdAfter ? new Date(createdAfter) : undefined,
    createdBefore: createdBefore ? new Date(createdBefore) : undefined,
    limit: 50,
    order: 'desc',
  };
}

/** What is wrong with a page for its filter (newest first), or undefined. */
export function checkPage(query: Record<string, string>, page: Command[]): string | undefined {
  const params = toListParams(query);
  for (const [i, c] of page.entries()) {
    const misses: string[] = [];
    if (params.state && c.state !== params.state) misses.push('state');
    if (params.domain && c.domain !== params.domain) misses.push('domain');
    if (params.type && c.type !== params.type) misses.push('type');
    if (params.errorCode && c.lastError?.code !== params.errorCode) misses.push('errorCode');
    if (params.batchId && c.batchId !== params.batchId) misses.push('batchId');
    if (params.correlationId && c.correlationId !== params.correlationId)
      misses.push('correlationId');
    if (params.createdAfter && c.createdAt < params.createdAfter) misses.push('createdAfter');
    if (params.createdBefore && c.createdAt >= params.createdBefore) misses.push('createdBefore');
    if (misses.length) return `ignores ${misses.join(', ')}`;
    const next = page[i + 1];
    if (next && next.id > c.id) return 'not newest first';
  }
  return undefined;
}

/** The troubleshooting groups the console shows, made from the library's list alone. */
export async function groupsThroughList(bus: CommandBus): Promise<{ groups: number }> {
  const groups = new Map<string, number>();
  let afterId: string | undefined;
  for (;;) {
    const page = await bus.list({ state: 'troubleshooting', limit: 1000, afterId });
    for (const c of page) {
      const key = `${c.lastError?.code ?? ''} ${maskMessage(c.lastError?.message ?? '')}`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    if (page.length < 1000) return { groups: groups.size };
    afterId = page.at(-1)!.id;
  }
}

/** Ids and numbers out of an error message (a stand-in for the console's fingerprint). */
export function maskMessage(message: string): string {
  return message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\b[0-9a-f]*[0-9][0-9a-f]*\b/gi, '<n>');
}
