/**
 * A TCP proxy that a test can cut and restore: while cut, connections to its port are refused
 * and open ones are dropped, which is what a client sees when the server behind it is down.
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** host:port to give the client instead of the target's. */
  address: string;
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;

  const listen = (on: number) =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.once('error', reject);
      s.listen(on, '127.0.0.1', () => {
        server = s;
        resolve((s.address() as AddressInfo).port);
      });
    });

  const stop = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  const bound = await listen(port);
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    cut: stop,
    restore: async () => void (server ? undefined : await listen(bound)),
    close: stop,
  };
}
