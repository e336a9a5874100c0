/**
 * The read-side measurements of the console on a filled store (see console-queries.ts for
 * the cases): through the library's calls always, through the HTTP API when the branch
 * has it.
 */
import type { CommandBus } from '../src/bus/bus.js';
import type { Command } from '../src/core/command.js';
import { getJson, serveConsole } from './console-http.js';
import {
  checkPage,
  filterCases,
  groupsThroughList,
  timeIt,
  toListParams,
  type Known,
  type QueryResult,
} from './console-queries.js';
import type { Log } from './console-store.js';

const OVERVIEW_TARGET = 'p95 < 50 ms';
const PAGE_TARGET = 'p95 < 100 ms';
const GROUPS_TARGET = 'p95 < 200 ms';

export async function measureQueries(
  bus: CommandBus,
  options: { reps: number; log: Log; quick: boolean; known: Known },
): Promise<{ library: QueryResult[]; http: QueryResult[] | null }> {
  const { reps, log, known } = options;
  const library: QueryResult[] = [];
  const report = (into: QueryResult[], result: QueryResult) => {
    into.push(result);
    const t = result.timing;
    log(
      `  ${result.name}: p50 ${t.p50.toFixed(1)} / p95 ${t.p95.toFixed(1)} / p99 ${t.p99.toFixed(1)} ms (n ${t.n}, ${result.rows} rows${result.wrong ? `; WRONG: ${result.wrong}` : ''})`,
    );
  };

  log('through the library');
  let rows = 0;
  const overview = await timeIt(async () => {
    const [counts] = await Promise.all([bus.counts(), bus.oldestPending(), bus.workers()]);
    rows = counts.length;
  }, reps);
  report(library, {
    name: 'overview (counts + oldestPending + workers)',
    target: OVERVIEW_TARGET,
    timing: overview,
    rows,
  });
  for (const [name, filter] of filterCases(known)) {
    let wrong: string | undefined;
    let page: Command[] = [];
    const timing = await timeIt(async (rep) => {
      page = await bus.list(toListParams(filter(rep)));
      wrong ??= checkPage(filter(rep), page);
    }, reps);
    report(library, {
      name: `list ${name}`,
      target: PAGE_TARGET,
      timing,
      rows: page.length,
      wrong,
    });
  }
  let groups = 0;
  const grouping = await timeIt(
    async () => {
      groups = (await groupsThroughList(bus)).groups;
    },
    Math.max(5, Math.round(reps / 10)),
  );
  report(library, {
    name: 'troubleshooting groups (list pages of 1,000 grouped in JS)',
    target: GROUPS_TARGET,
    timing: grouping,
    rows: groups,
  });

  const served = await serveConsole(bus);
  if (!served) {
    log('no src/console on this branch: HTTP not measured');
    return { library, http: null };
  }
  const http: QueryResult[] = [];
  try {
    log(`through the HTTP API at ${served.url}`);
    const get = <T>(path: string) => getJson<T>(served.url, path);
    let countRows = 0;
    report(http, {
      name: 'GET /api/overview',
      target: OVERVIEW_TARGET,
      timing: await timeIt(async () => {
        countRows = (await get<{ counts: unknown[] }>('/api/overview')).counts.length;
      }, reps),
      rows: countRows,
    });
    for (const [name, filter] of filterCases(known)) {
      let wrong: string | undefined;
      let page: Command[] = [];
      const timing = await timeIt(async (rep) => {
        const query = new URLSearchParams({ ...filter(rep), limit: '50', order: 'desc' });
        const body = await get<{ commands: Command[] }>(`/api/commands?${query.toString()}`);
        page = body.commands.map((c) => ({ ...c, createdAt: new Date(c.createdAt) }));
        wrong ??= checkPage(filter(rep), page);
      }, reps);
      report(http, {
        name: `GET /api/commands ${name}`,
        target: PAGE_TARGET,
        timing,
        rows: page.length,
        wrong,
      });
    }
    const probe = await fetch(`${served.url}/api/troubleshooting/groups`);
    await probe.body?.cancel();
    if (probe.status === 404) log('  GET /api/troubleshooting/groups: not on this branch (404)');
    else {
      let groupRows = 0;
      report(http, {
        name: 'GET /api/troubleshooting/groups',
        target: GROUPS_TARGET,
        timing: await timeIt(
          async () => {
            groupRows = (await get<{ groups: unknown[] }>('/api/troubleshooting/groups')).groups
              .length;
          },
          Math.max(10, Math.round(reps / 4)),
        ),
        rows: groupRows,
      });
    }
  } finally {
    await served.close();
  }
  return { library, http };
}
