/**
 * `npm run bench` — every workload against every system; `-- --quick` is a one-minute
 * smoke that checks the harness works (not the speed).
 *
 *   --quick                tiny counts, one run
 *   --only a,b             these systems (see adapters/index.ts); the variants of ours
 *                          with metrics and tracing on or off run only when named here
 *                          (dispatchbox-redis-observed, dispatchbox-redis-dark, …)
 *   --workload x,y         these workloads (enqueue-bulk, enqueue-single, drain, latency,
 *                          retry, sustained, batch, memory, rate-limited)
 *   --runs N               repetitions of the repeated workloads (default 3; --quick 1)
 *   --profile              run worker processes under --cpu-prof (results/profiles/)
 *   --at <commit>          measure Dispatchbox as of this commit (its src/ is extracted into
 *                          results/snapshots/), so that edits made during a long run don't
 *                          mix versions; default: the working tree
 *   --write / --no-write   regenerate the table section of RESULTS.md (default: on for a
 *                          full run of everything)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  ALL_SYSTEM_NAMES,
  SYSTEM_NAMES,
  isSystemName,
  systemInfo,
  type SystemName,
} from './adapters/index.js';
import { PG_ADMIN_URL } from './adapters/adapter.js';
import { HostError, RESULTS_DIR } from './host-client.js';
import {
  observabilityTable,
  problems,
  ratiosTable,
  resultsTable,
  targets,
  targetsTable,
} from './report.js';
import {
  SystemHosts,
  WORKLOADS,
  batch,
  bulkAndDrain,
  configFor,
  emptyResult,
  latency,
  singleAndRetry,
  sustained,
  type BenchConfig,
  type RunSample,
  type SystemResult,
  rateLimited,
  type Workload,
} from './workloads.js';

const BENCH_DIR = join(RESULTS_DIR, '..');

function parse(): { config: BenchConfig; systems: SystemName[]; write: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      workload: { type: 'string' },
      runs: { type: 'string' },
      profile: { type: 'boolean', default: false },
      write: { type: 'boolean' },
      at: { type: 'string' },
      source: { type: 'boolean', default: false },
      'no-write': { type: 'boolean' },
    },
  });
  const list = (s: string | undefined) =>
    s
      ? s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : null;
  const systems = list(values.only) ?? SYSTEM_NAMES;
  for (const s of systems) {
    if (!isSystemName(s))
      throw new Error(
        `--only: unknown system ${JSON.stringify(s)}; known: ${ALL_SYSTEM_NAMES.join(', ')}`,
      );
  }
  const workloads = list(values.workload) ?? [...WORKLOADS];
  for (const w of workloads) {
    if (!(WORKLOADS as readonly string[]).includes(w))
      throw new Error(
        `--workload: unknown workload ${JSON.stringify(w)}; known: ${WORKLOADS.join(', ')}`,
      );
  }
  const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a whole number of at least 1; got ${values.runs}`);
  mkdirSync(join(RESULTS_DIR, 'profiles'), { recursive: true });
  const config: BenchConfig = {
    ...configFor(values.quick),
    runs,
    workloads: new Set(workloads as Workload[]),
    workerNodeArgs: values.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS_DIR, 'profiles')}`]
      : [],
    log: (message) => log(message),
  };
  const sourceDir = values.at ? snapshot(values.at) : join(BENCH_DIR, '..', 'src');
  // Dispatchbox runs compiled, as an application runs it from npm, like the peers' own
  // JavaScript; --source runs the TypeScript through tsx instead (no build step).
  process.env.BENCH_DISPATCHBOX_ENTRY = values.source
    ? join(sourceDir, 'index.ts')
    : compile(sourceDir);
  // The hosts run compiled too, under plain node: under tsx every host carried its loader
  // thread and the transform of each file it loaded, which counted in the peak RSS of
  // whichever system loaded more of its own code as ESM.
  if (!values.source) process.env.BENCH_HOST_ENTRY = compileHost();
  const everything = !values.only && !values.workload;
  const write = values['no-write'] ? false : (values.write ?? (everything && !values.quick));
  return { config, systems: systems as SystemName[], write };
}

/** Extracts src/ as of `commit` (read-only git archive) and returns its entry point. */
function snapshot(commit: string): string {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], {
    cwd: BENCH_DIR,
    encoding: 'utf8',
  }).trim();
  const dir = join(RESULTS_DIR, 'snapshots', sha.slice(0, 12));
  if (!existsSync(join(dir, 'src', 'index.ts'))) {
    mkdirSync(dir, { recursive: true });
    const archive = execFileSync('git', ['archive', sha, 'src'], {
      cwd: join(BENCH_DIR, '..'),
      maxBuffer: 64 * 2 ** 20,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
  }
  dispatchboxCommit = sha.slice(0, 12);
  return join(dir, 'src');
}

/** Compiles a copy of src/ with the project's own build settings; returns its entry point. */
function compile(sourceDir: string): string {
  const out = join(RESULTS_DIR, 'build', dispatchboxCommit.replace(/\W+/g, '-'));
  mkdirSync(out, { recursive: true });
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(BENCH_DIR, '..', 'tsconfig.build.json'),
      compilerOptions: {
        rootDir: sourceDir,
        outDir: join(out, 'dist'),
        declaration: false,
        declarationMap: false,
      },
      include: [sourceDir],
    }),
  );
  const tsc = join(BENCH_DIR, '..', 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' });
  return join(out, 'dist', 'index.js');
}

/** Compiles the host and the adapters (this directory) for plain node; returns host.js. */
function compileHost(): string {
  const out = join(RESULTS_DIR, 'build', 'host');
  const tsconfig = join(RESULTS_DIR, 'build', 'tsconfig.host.json');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(BENCH_DIR, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        outDir: out,
        rootDir: join(BENCH_DIR, '..'),
        declaration: false,
      },
      include: [join(BENCH_DIR, '*.ts'), join(BENCH_DIR, 'adapters', '*.ts')],
    }),
  );
  const tsc = join(BENCH_DIR, '..', 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' });
  return join(out, 'bench', 'host.js');
}

let dispatchboxCommit = 'working tree';

async function environment(): Promise<Record<string, string>> {
  const version = (pkg: string, base = join(BENCH_DIR, 'node_modules')) =>
    (JSON.parse(readFileSync(join(base, pkg, 'package.json'), 'utf8')) as { version: string })
      .version;
  let postgres = 'unreachable';
  let redis = 'unreachable';
  try {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
    postgres = ((await client.query('SHOW server_version')).rows[0] as { server_version: string })
      .server_version;
    await client.end();
  } catch {
    // Reported as unreachable; the workloads on it will say why.
  }
  try {
    const r = new Redis({
      host: '127.0.0.1',
      port: 6379,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await r.connect();
    redis = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?';
    r.disconnect();
  } catch {
    // As above.
  }
  return {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    postgres,
    redis,
    dispatchbox: `${version('.', join(BENCH_DIR, '..'))} (${dispatchboxCommit})`,
    bullmq: version('bullmq'),
    'pg-boss': version('pg-boss'),
    'graphile-worker': version('graphile-worker'),
    '@electric-sql/pglite': version('@electric-sql/pglite'),
    pg: version('pg'),
    ioredis: version('ioredis'),
  };
}

const started = Date.now();
const log = (message: string) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);

/** Every result so far, rewritten after each step, so a long run that is cut short still says something. */
let partial: SystemResult[] = [];

async function step(result: SystemResult, what: string, fn: () => Promise<void>): Promise<void> {
  if (result.unavailable) return;
  log(`${result.system}: ${what}`);
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof HostError && error.unavailable)) throw error;
    log(`${result.system}: not available (${result.unavailable})`);
  }
  writePartial();
}

function writePartial(): void {
  writeFileSync(join(RESULTS_DIR, 'partial.json'), `${JSON.stringify(partial, null, 2)}\n`);
}

async function main(): Promise<void> {
  const { config, systems, write } = parse();
  const env = await environment();
  const results = new Map(systems.map((s) => [s, emptyResult(s)]));
  partial = [...results.values()];
  const has = (w: Workload) => config.workloads.has(w);
  log(
    `${config.quick ? 'quick smoke' : 'full run'}: ${systems.join(', ')}; ${[...config.workloads].join(', ')}; ${config.runs} run(s)`,
  );

  const hosts = new Map(systems.map((s) => [s, new SystemHosts(s, config)]));
  // Runs go round the systems, so that a burst of noise on the machine hits one run of each.
  for (let run = 0; run < config.runs; run++) {
    for (const system of systems) {
      const result = results.get(system)!;
      const h = hosts.get(system)!;
      const sample: RunSample = {};
      if (has('enqueue-bulk') || has('drain') || has('memory')) {
        await step(result, `run ${run + 1}: enqueue-bulk, drain`, () =>
          bulkAndDrain(h, config, result, sample, run),
        );
      }
      if (has('enqueue-single') || has('retry')) {
        await step(result, `run ${run + 1}: enqueue-single, retry`, () =>
          singleAndRetry(h, config, result, sample, run),
        );
      }
      if (!result.unavailable) result.runs.push(sample);
      if (run < config.runs - 1) await h.closeAll();
    }
  }
  // Latency: the systems of one store take turns, each with its worker idle meanwhile.
  if (has('latency')) {
    for (const store of new Set(systems.map((s) => systemInfo(s).store))) {
      const group = systems
        .filter((s) => systemInfo(s).store === store && !results.get(s)!.unavailable)
        .map((s) => ({ hosts: hosts.get(s)!, result: results.get(s)! }));
      if (group.length === 0) continue;
      log(`latency, ${config.runs} turn(s) each: ${group.map((g) => g.result.system).join(', ')}`);
      await latency(group, config);
      writePartial();
    }
  }
  // Once per system: they take a fixed time (sustained) or dominate the budget (batch).
  for (const system of systems) {
    const result = results.get(system)!;
    const h = hosts.get(system)!;
    if (has('sustained')) await step(result, 'sustained', () => sustained(h, config, result));
    if (has('batch') && systemInfo(system).ours)
      await step(result, 'batch', () => batch(h, config, result));
    if (has('rate-limited') && systemInfo(system).ours)
      await step(result, 'rate-limited', () => rateLimited(h, config, result));
    await h.closeAll();
  }

  const all = [...results.values()];
  const table = resultsTable(all, config);
  const ratios = [ratiosTable(all), observabilityTable(all)].filter(Boolean).join('\n\n');
  const checked = targets(all);
  const targetTable = targetsTable(checked);
  console.log(
    `\n${Object.entries(env)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n')}\n\n${table}\n\n${ratios}\n\n${targetTable}\n`,
  );
  const trouble = problems(all);
  for (const line of trouble) console.log(`! ${line}`);
  for (const r of all)
    if (r.unavailable) console.log(`- ${r.system}: not available (${r.unavailable})`);

  const json = {
    env,
    quick: config.quick,
    runs: config.runs,
    workloads: [...config.workloads],
    seconds: (Date.now() - started) / 1000,
    results: all,
    targets: checked,
  };
  writeFileSync(
    join(RESULTS_DIR, config.quick ? 'quick.json' : 'latest.json'),
    `${JSON.stringify(json, null, 2)}\n`,
  );
  if (write) writeResultsMd(env, config, table, ratios, targetTable);
  log(
    `done in ${((Date.now() - started) / 1000).toFixed(0)} s${trouble.length ? `; ${trouble.length} problem(s)` : ''}`,
  );
  process.exitCode = trouble.length > 0 ? 1 : 0;
}

/** Replaces the generated section of RESULTS.md (between the markers), nothing else. */
function writeResultsMd(
  env: Record<string, string>,
  config: BenchConfig,
  table: string,
  ratios: string,
  targetTable: string,
): void {
  const path = join(BENCH_DIR, 'RESULTS.md');
  const text = readFileSync(path, 'utf8');
  const start = '<!-- results:start -->';
  const end = '<!-- results:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`RESULTS.md has no ${start} … ${end} section to regenerate`);
  const section = [
    start,
    `Generated by \`npm run bench\` on ${env.date}: Dispatchbox ${env.dispatchbox}, ${env.machine}, Node ${env.node}, PostgreSQL ${env.postgres}, Redis ${env.redis}.`,
    `Repeated workloads: median of ${config.runs} runs (min–max); latency: ${config.runs} turns of ${config.latencyMs / config.runs / 1000} s each, the systems of a store taking turns, percentiles over all samples; sustained and the 1,000,000-command batch: one run each; the embedded batch: the run with the median drain rate of ${config.runs} (min–max of the rate).`,
    '',
    table,
    '',
    '### Ratios, ours ÷ peer on the same store',
    '',
    ratios,
    '',
    '### Targets',
    '',
    targetTable,
    end,
  ].join('\n');
  writeFileSync(path, text.slice(0, a) + section + text.slice(b + end.length));
  // The repository's lint checks Markdown with Prettier: align the new tables the same way.
  try {
    execFileSync(join(BENCH_DIR, '..', 'node_modules', '.bin', 'prettier'), ['--write', path], {
      stdio: 'ignore',
    });
  } catch {
    console.log('RESULTS.md written; Prettier was not available to format it');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
