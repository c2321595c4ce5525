import net from 'node:net';

export interface SilentListener {
  port: number;
  /** Connections currently held open. */
  connections(): number;
  close(): Promise<void>;
}

/** Accepts TCP connections and never answers: the "hung server" a client must time out on. */
export async function startSilentListener(): Promise<SilentListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Read and drop what the client sends: a paused socket would never see the client's FIN and stay open.
    socket.resume();
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface TcpProxy {
  port: number;
  /** Client connections currently open through the proxy. */
  connections(): number;
  /** Cuts every connection and stops listening: clients see resets, then refused connections. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy to `targetPort` that can be switched off and on in a few milliseconds: an outage of
 * a real server without the seconds a server restart costs, so a test can run many down/up cycles.
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let server: net.Server | undefined;
  let port = 0;

  const listen = async () => {
    const next = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      const pair: [net.Socket, net.Socket] = [client, upstream];
      pairs.add(pair);
      const cut = () => {
        client.destroy();
        upstream.destroy();
        pairs.delete(pair);
      };
      client.on('error', cut).on('close', cut);
      upstream.on('error', cut).on('close', cut);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    port = (next.address() as net.AddressInfo).port;
    server = next;
  };

  const down = async () => {
    const current = server;
    server = undefined;
    for (const [client, upstream] of pairs) {
      // resetAndDestroy sends RST like a crashed server; plain destroy would be a polite FIN.
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    connections: () => pairs.size,
    down,
    up: listen,
    close: down,
  };
}
