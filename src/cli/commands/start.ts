import { Command } from 'commander';
import { loadDemoConfig, redact, toWorkerOptions, type DemoConfig } from '../../config/index.js';
import type { CommandBus } from '../../bus/bus.js';
import { FINISHED_STATES } from '../../core/lifecycle.js';
import { configOf, withBus, type CliIo } from '../context.js';
import { DEMO_DOMAIN, registerDemoHandlers } from '../../console/demo/handlers.js';
import { sendDemoLoad } from '../demo/load.js';
import { drained, ProgressView, type ProgressSnapshot } from '../demo/progress.js';
import { startOperations } from '../operations.js';
import { waitForStopSignal } from '../signals.js';
import { addWorkerOptions } from './worker.js';

/** `npm start`: the demo. Demo handlers, a demo load, live progress, graceful Ctrl-C. */
export function startCommand(io: CliIo): Command {
  return addWorkerOptions(
    new Command('start')
      .description('run the demo: demo handlers, a demo load and live progress, until Ctrl-C')
      .option('--count <n>', 'commands to send (DISPATCHBOX_DEMO_COUNT, default 2000)')
      .option(
        '--rate <n>',
        'commands sent per second, 0 = all at once (DISPATCHBOX_DEMO_RATE, default 200)',
      )
      .option(
        '--permanent-pct <pct>',
        'attempts that fail permanently (DISPATCHBOX_DEMO_PERMANENT_PCT, default 2)',
      )
      .option(
        '--transient-pct <pct>',
        'attempts that fail transiently (DISPATCHBOX_DEMO_TRANSIENT_PCT, default 10)',
      )
      .option(
        '--timeout-pct <pct>',
        'attempts that hang until the timeout (DISPATCHBOX_DEMO_TIMEOUT_PCT, default 1)',
      )
      .option('--min-ms <ms>', 'shortest handler run (DISPATCHBOX_DEMO_MIN_MS, default 5)')
      .option('--max-ms <ms>', 'longest handler run (DISPATCHBOX_DEMO_MAX_MS, default 50)')
      .option(
        '--duration <s>',
        'stop by itself after this many seconds (DISPATCHBOX_DEMO_DURATION)',
      ),
  ).action(async (options: Record<string, unknown>, command: Command) => {
    const config = configOf(command, io);
    const demo = loadDemoConfig({ env: io.env, flags: options });
    const where = config.databaseUrl
      ? redact(config.databaseUrl)
      : `the embedded database in ${config.dataDir}`;
    io.out(describe(demo, where));
    await withBus(config, 'start', (bus) => runDemo(bus, demo, config, io), {
      // Failed attempts are part of the show; logging each one would bury the progress view.
      logLevel: config.logLevel ?? 'error',
    });
  });
}

function describe(d: DemoConfig, where: string): string {
  const pace = d.rate === 0 ? 'all at once' : `at ${d.rate}/s`;
  const stop =
    d.durationS === undefined
      ? 'Ctrl-C stops it gracefully'
      : `stops after ${d.durationS}s (or Ctrl-C)`;
  return [
    `Dispatchbox demo on ${where}`,
    `sending ${d.count} commands ${pace}; each attempt: ${d.permanentPct}% permanent failure, ${d.transientPct}% transient failure, ${d.timeoutPct}% timeout, otherwise ${d.minMs}-${d.maxMs} ms of work`,
    `${stop}. Inspect afterwards with: npm run dispatchbox -- tsq list`,
    '',
  ].join('\n');
}

async function runDemo(
  bus: CommandBus,
  demo: DemoConfig,
  config: ReturnType<typeof configOf>,
  io: CliIo,
): Promise<void> {
  registerDemoHandlers(bus, demo);
  const worker = bus.worker(toWorkerOptions(config));
  const stopOperations = await startOperations(bus, worker, config, io);
  const startedAt = Date.now();
  let sent = 0;
  const stopSending = new AbortController();
  const sending = sendDemoLoad(bus, demo, stopSending.signal, (n) => (sent = n));

  const view = new ProgressView((text) => io.out(text), io.isTTY);
  const history: { at: number; finished: number }[] = [];
  const snapshot = async (): Promise<ProgressSnapshot> => {
    const store = await bus.countByState(DEMO_DOMAIN);
    const now = Date.now();
    const finished = FINISHED_STATES.reduce((sum, state) => sum + store[state], 0);
    history.push({ at: now, finished });
    while (history.length > 5) history.shift();
    const first = history[0]!;
    const ratePerS = now > first.at ? ((finished - first.finished) * 1000) / (now - first.at) : 0;
    const { completed, retried, troubleshooting } = worker.stats;
    return {
      elapsedS: Math.round((now - startedAt) / 1000),
      run: { sent, target: demo.count, completed, retried, troubleshooting },
      store,
      ratePerS,
    };
  };
  let saidDrained = false;
  const show = (s: ProgressSnapshot) => {
    view.show(s);
    if (saidDrained || !drained(s)) return;
    saidDrained = true;
    view.note(
      `the load has drained after ${s.elapsedS}s: all ${s.run.target} commands sent and none waiting or running (this run: ${s.run.completed} completed, ${s.run.troubleshooting} to troubleshooting). Ctrl-C stops the demo; then see the troubleshooting queue with: npm run dispatchbox -- tsq list`,
    );
  };
  let drawing = Promise.resolve();
  const timer = setInterval(() => {
    drawing = drawing
      .then(async () => show(await snapshot()))
      .catch((error: unknown) => io.err(`progress: ${(error as Error).message}`));
  }, 1000);

  const reason = await waitForStopSignal(
    demo.durationS === undefined ? undefined : demo.durationS * 1000,
  );
  clearInterval(timer);
  stopSending.abort();
  await sending.catch((error: unknown) => io.err(`sending stopped: ${(error as Error).message}`));
  await drawing;
  io.out(
    reason === 'timeout'
      ? `\n${demo.durationS}s passed: stopping gracefully`
      : `\n${reason}: stopping gracefully`,
  );
  await stopOperations();
  view.show(await snapshot());
  io.out(`stopped. this run: ${JSON.stringify(worker.stats)}`);
}
