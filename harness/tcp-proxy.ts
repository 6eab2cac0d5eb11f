/**
 * A TCP proxy a test or the chaos run can cut: in front of one server (a service's PostgreSQL,
 * Temporal's frontend), it makes that server unreachable and reachable again without touching
 * the server itself, which other services and tests share.
 *
 * Cut, it keeps its port and resets every open connection and every new one: what a client sees
 * of a peer that has gone away. Keeping the port (rather than closing the listener) means restore
 * can never lose it to another process.
 */
import net, { type AddressInfo } from 'node:net';

export interface TcpProxy {
  /** host:port to give the client instead of the target's. */
  address: string;
  port: number;
  /** Resets every open connection and every new one until restore(). */
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  /** Connections reset while cut (a sign the outage was felt). */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let isCut = false;
  let refused = 0;

  const server = net.createServer((client) => {
    if (isCut) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    port,
    cut() {
      isCut = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      isCut = false;
    },
    get isCut() {
      return isCut;
    },
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
