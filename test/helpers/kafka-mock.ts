/**
 * A Kafka cluster for tests: librdkafka's MOCK cluster, started inside Debian's `kcat`
 * (`kcat -X test.mock.num.brokers=3 ...`). It is not a real Kafka broker: it speaks the
 * Kafka protocol (produce with idempotence, fetch, consumer groups, offset commits) as
 * librdkafka 2.0.2 implements it for its own tests, keeps everything in memory, has no
 * CreateTopics API (topics are auto-created with 4 partitions on the first metadata
 * request) and cannot be restarted with its data. Kafka support is tested against it only.
 *
 * kcat itself runs a consumer on a throwaway topic to keep the process (and so the
 * cluster) alive; it prints `bootstrap.servers=127.0.0.1:A,127.0.0.1:B,127.0.0.1:C` on
 * stderr once the brokers listen.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface KafkaMockCluster {
  /** The brokers' bootstrap list, `127.0.0.1:A,127.0.0.1:B,127.0.0.1:C`. */
  brokers: string;
  /** kcat's process id (the cluster lives in it). */
  pid: number;
  /** Kills the cluster (SIGKILL by PID) and waits for the process to exit. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 15_000;

/**
 * Whether the Kafka tests can run: true when kcat is installed. In CI (CI=true) a missing
 * kcat is a failure, never a skip; elsewhere the suite says plainly that it did not run.
 */
export function requireKcat(): boolean {
  const found = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
  if (found) return true;
  if (process.env.CI) {
    throw new Error(
      'kcat is not installed (apt-get install kcat), and CI needs it for the Kafka tests',
    );
  }
  console.warn(
    '\n*** kcat is not installed (apt-get install kcat): the Kafka tests did NOT run ***\n',
  );
  return false;
}

/** Starts a mock cluster of `brokers` brokers in a kcat child process. */
export async function startKafkaMock(brokers = 3): Promise<KafkaMockCluster> {
  const child = spawn(
    'kcat',
    [
      '-X',
      `test.mock.num.brokers=${brokers}`,
      '-d',
      'mock',
      '-C',
      '-t',
      '__kcat_keepalive',
      '-b',
      '127.0.0.1:1',
      '-q',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `kcat printed no bootstrap.servers within ${STARTUP_TIMEOUT_MS} ms:\n${stderr}`,
          ),
        ),
      STARTUP_TIMEOUT_MS,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('error', (error) => fail(new Error(`could not start kcat: ${error.message}`)));
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(new Error(`kcat exited (${code ?? signal}) before the mock cluster was up:\n${stderr}`));
    child.once('exit', onExit);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      // Keep reading (and dropping) the mock's debug output, or kcat blocks on a full pipe.
      if (stderr.length < 20_000) stderr += chunk;
      const match = /bootstrap\.servers=(\S+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve(match[1]);
      }
    });
  });
  return {
    brokers: bootstrap,
    pid: child.pid ?? -1,
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    process.kill(child.pid, 'SIGKILL');
  }
  await exited;
}
