import { createServer, Socket } from 'node:net';

/** True when something accepts TCP connections at host:port within the timeout. */
export function reachable(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Whether a server-backed suite runs. In CI a missing server is a failure, never a
 * silent skip; elsewhere the suite says plainly that it did not run.
 */
export async function requireServer(name: string, port: number): Promise<boolean> {
  const up = await reachable(port);
  if (up) return true;
  if (process.env.CI)
    throw new Error(`${name} is not reachable on 127.0.0.1:${port}, and CI needs it`);
  console.warn(`\n*** ${name} is not reachable on 127.0.0.1:${port}: its tests did NOT run ***\n`);
  return false;
}

export const POSTGRES_URL =
  process.env.DISPATCHBOX_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
