import { Command } from 'commander';
import type { CommandBus } from '../../bus/bus.js';
import {
  loadStreamsConfig,
  type DispatchboxConfig,
  type StreamsConfig,
} from '../../config/index.js';
import { ConfigurationError } from '../../core/errors.js';
import {
  createMetrics,
  startOperationsServer,
  type DispatchboxMetrics,
} from '../../observability/index.js';
import { redisDedup, StreamMetrics, streamService, type DedupStore } from '../../streams/index.js';
import { discoverStreamHandlers, selectStreamHandlers } from '../../streams/modules.js';
import { openStreamTransport, transportKindOf } from '../../streams/open.js';
import { startOutboxRelay } from '../../streams/outbox-relay.js';
import { configOf, withBus, type CliIo } from '../context.js';
import { addOperationsOptions } from '../operations.js';
import { waitForStopSignal } from '../signals.js';

function streamsUrl(config: StreamsConfig): string {
  if (!config.streamsUrl) {
    throw new ConfigurationError(
      'set DISPATCHBOX_STREAMS_URL to the stream server: redis://host:6379/0, nats://host:4222 or kafka://host:9092',
    );
  }
  return config.streamsUrl;
}

/** `dispatchbox streams`: every stream handler module of a directory, or one (per-handler deployment). */
export function streamsCommand(io: CliIo): Command {
  return addOperationsOptions(
    new Command('streams')
      .description(
        'run the stream handler modules of a directory (each exports stream, group and handle) until SIGTERM or Ctrl-C; --stream and --group run one of them',
      )
      .option(
        '--dir <dir>',
        'directory of stream handler modules (DISPATCHBOX_STREAMS_DIR, default ./stream-handlers)',
      )
      .option('--stream <name>', 'run only the module(s) of this stream')
      .option('--group <name>', 'with --stream: only the module of this consumer group')
      .option('--dedup <mode>', 'auto, store, redis or none (DISPATCHBOX_STREAMS_DEDUP)')
      .option(
        '--dedup-ttl <duration>',
        "how long handled ids are remembered, e.g. '24h' (DISPATCHBOX_STREAMS_DEDUP_TTL)",
      ),
  ).action(async (options: { stream?: string; group?: string }, command: Command) => {
    const config = configOf(command, io);
    const streams = loadStreamsConfig({ env: io.env, flags: command.opts() });
    const url = streamsUrl(streams);
    // The modules load before anything opens, so a module that cannot load stops at once.
    const modules = selectStreamHandlers(await discoverStreamHandlers(streams.streamsDir), options);
    await withBus(config, 'streams', async (bus) => {
      const transport = await openStreamTransport(url);
      const dedup = await chooseDedup(streams, bus, url);
      const busMetrics = createMetrics(bus, { processMetrics: true });
      const metrics = new StreamMetrics(busMetrics.registry);
      let builder = streamService({ name: 'dispatchbox-streams', transport, logger: bus.logger })
        .withBus(bus)
        .withMetrics(metrics)
        .produce();
      if (dedup.store) builder = builder.withDedup(dedup.store, { ttl: streams.streamsDedupTtlMs });
      for (const m of modules)
        builder = builder.consume({
          ...m.options,
          topics: [m.stream],
          group: m.group,
          handler: m.handle,
        });
      const service = builder.build();
      const server = await operationsServer(bus, config, busMetrics);
      server?.watchReadiness(() => service.notReadyReasons());
      try {
        await service.start();
        // Listening before the lines that say it runs: a SIGTERM sent on reading them is ours.
        const stopSignal = waitForStopSignal();
        io.out(
          `streams: ${modules.map((m) => `${m.stream} as ${m.group}`).join(', ')} on ${transport.kind}, dedup ${dedup.name}; stop with Ctrl-C or SIGTERM`,
        );
        if (server)
          io.out(
            `health endpoints: ${server.url}/health, ${server.url}/ready, ${server.url}/metrics`,
          );
        const signal = await stopSignal;
        io.out(
          `${signal}: stopping the stream consumers (handled messages are acknowledged, the rest redelivered)`,
        );
        server?.beginShutdown();
        await service.stop({ graceMs: config.shutdownTimeoutMs });
      } finally {
        await dedup.close();
        await server?.close();
        busMetrics.close();
      }
      io.out('streams stopped');
    });
  });
}

/** `dispatchbox relay`: delivers the outbox's events (bus.publish) to the stream server. */
export function relayCommand(io: CliIo): Command {
  return addOperationsOptions(
    new Command('relay').description(
      'deliver the events bus.publish wrote to the outbox to their streams (DISPATCHBOX_STREAMS_URL), in order per key, until SIGTERM or Ctrl-C',
    ),
  ).action(async (_options: unknown, command: Command) => {
    const config = configOf(command, io);
    const url = streamsUrl(loadStreamsConfig({ env: io.env, flags: command.opts() }));
    await withBus(config, 'relay', async (bus) => {
      const busMetrics = createMetrics(bus, { processMetrics: true });
      const metrics = new StreamMetrics(busMetrics.registry);
      const relay = await startOutboxRelay({
        bus,
        transport: await openStreamTransport(url),
        logger: bus.logger,
        metrics,
      });
      const server = await operationsServer(bus, config, busMetrics);
      const stopSignal = waitForStopSignal();
      io.out(`outbox relay running to ${transportKindOf(url)}; stop with Ctrl-C or SIGTERM`);
      const signal = await stopSignal;
      io.out(`${signal}: stopping the relay`);
      server?.beginShutdown();
      await relay.stop();
      await server?.close();
      busMetrics.close();
      io.out(`relay stopped after delivering ${relay.delivered} events`);
    });
  });
}

/** /health, /ready and /metrics on DISPATCHBOX_HEALTH_PORT; none when it is 0. */
function operationsServer(bus: CommandBus, config: DispatchboxConfig, metrics: DispatchboxMetrics) {
  if (config.healthPort === 0) return Promise.resolve(null);
  return startOperationsServer(bus, {
    port: config.healthPort,
    host: '0.0.0.0',
    metrics,
    logger: bus.logger,
  });
}

async function chooseDedup(
  streams: StreamsConfig,
  bus: CommandBus,
  url: string,
): Promise<{ name: string; store: DedupStore | null; close: () => Promise<void> }> {
  const none = { name: 'none', store: null, close: async () => {} };
  const mode = streams.streamsDedup;
  if (mode === 'none') return none;
  if (mode === 'store' || (mode === 'auto' && bus.backend.dedup)) {
    if (!bus.backend.dedup) {
      throw new ConfigurationError(
        `DISPATCHBOX_STREAMS_DEDUP=store needs PostgreSQL or the embedded store; the ${bus.backend.kind} store keeps no handled ids (use redis or none)`,
      );
    }
    return { name: 'store', store: bus.backend.dedup, close: async () => {} };
  }
  if (mode === 'redis' || (mode === 'auto' && transportKindOf(url) === 'redis')) {
    if (transportKindOf(url) !== 'redis') {
      throw new ConfigurationError(
        'DISPATCHBOX_STREAMS_DEDUP=redis needs the Redis transport (a redis:// DISPATCHBOX_STREAMS_URL)',
      );
    }
    const { Redis } = await import('ioredis');
    const client = new Redis(url, { lazyConnect: false });
    return {
      name: 'redis',
      store: redisDedup(client),
      close: async () => void (await client.quit()),
    };
  }
  return none;
}
