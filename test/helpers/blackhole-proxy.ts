/**
 * A TCP proxy on 127.0.0.1 between a worker and its store, which can cut the network
 * silently: packets dropped, no reset, every socket left open.
 *
 * Hand-written, some eighty lines on node:net. Toxiproxy can do this (its `timeout`
 * toxic), but it is a separate Go server to install and run beside the tests
 * (toxiproxy-node-client is only its client, @testcontainers/toxiproxy runs it in Docker);
 * the npm TCP proxies (node-tcp-proxy, tcp-proxy.js) only forward, and close what closes.
 *
 * - `cut()`: nothing more is forwarded either way and no socket is closed. New
 *   connections are accepted but never forwarded nor answered (a real cut leaves the SYN
 *   unanswered instead; either way only the client's own connect timeout ends the wait).
 * - `restore()`: new connections are forwarded again. Connections that lived through the
 *   cut stay silent for the client for good, a half-open socket only its own timeouts can
 *   find out, while their server side is closed, as the server's keepalive (or the
 *   client's reset, once the network is back) would: the server releases what those
 *   sessions held. This is the hard case: a client that waits for TCP to tell it waits
 *   for many minutes.
 */
import { createServer, Socket, type Server } from 'node:net';

interface Pair {
  client: Socket;
  server: Socket | null;
  clientClosed: boolean;
}

export class BlackholeProxy {
  private readonly pairs = new Set<Pair>();
  private cutAt: number | null = null;
  /** Connections that lived through a cut: silent for good. */
  private readonly dead = new WeakSet<Pair>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<BlackholeProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no proxy port');
    const proxy = new BlackholeProxy(server, address.port, targetPort);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  get isCut(): boolean {
    return this.cutAt !== null;
  }

  cut(): void {
    this.cutAt = Date.now();
    for (const pair of this.pairs) this.dead.add(pair);
  }

  restore(): void {
    this.cutAt = null;
    for (const pair of this.pairs) {
      if (!this.dead.has(pair)) continue;
      pair.server?.destroy();
      pair.server = null;
      if (pair.clientClosed) this.pairs.delete(pair);
    }
  }

  private accept(client: Socket): void {
    const pair: Pair = { client, server: null, clientClosed: false };
    this.pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pair.clientClosed = true;
      // a close in a cut reaches the server only once the network is back (restore)
      if (this.dead.has(pair) && this.isCut) return;
      this.pairs.delete(pair);
      pair.server?.destroy();
    });
    if (this.isCut) {
      this.dead.add(pair); // accepted, never answered
      return;
    }
    const server = new Socket();
    pair.server = server;
    server.on('error', () => {});
    server.on('close', () => {
      if (!this.dead.has(pair)) client.destroy();
    });
    server.connect(this.targetPort, '127.0.0.1');
    this.forward(pair, client, server);
    this.forward(pair, server, client);
  }

  /** Writes what `from` reads into `to`, until the pair is cut. */
  private forward(pair: Pair, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.dead.has(pair)) return; // dropped
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!this.dead.has(pair)) from.resume();
    });
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.server?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
