// What the http and tcp probes check: a small HTTP health endpoint and a plain TCP listener, in the bench
// process (their cost is the same whichever prober calls them, and counted for neither).
import http from 'node:http';
import net from 'node:net';

export const HEALTH_BODY = '{"status":"ok"}';
export const HEALTH_BODY_MATCH = '"status":\\s*"ok"';

export interface Targets {
  healthUrl: string;
  tcpAddress: string;
  /** Requests answered and connections accepted, to show both probers really called. */
  counts(): { http: number; tcp: number };
  close(): Promise<void>;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return (server.address() as net.AddressInfo).port;
}

export async function startTargets(): Promise<Targets> {
  let httpCount = 0;
  let tcpCount = 0;
  const web = http.createServer((request, response) => {
    httpCount++;
    request.resume();
    response.writeHead(request.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
    response.end(HEALTH_BODY);
  });
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    tcpCount++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.resume();
    socket.once('close', () => sockets.delete(socket));
  });
  const webPort = await listen(web);
  const tcpPort = await listen(tcp);
  return {
    healthUrl: `http://127.0.0.1:${webPort}/health`,
    tcpAddress: `127.0.0.1:${tcpPort}`,
    counts: () => ({ http: httpCount, tcp: tcpCount }),
    async close() {
      for (const socket of sockets) socket.destroy();
      web.closeAllConnections();
      await Promise.all([new Promise((r) => web.close(r)), new Promise((r) => tcp.close(r))]);
    },
  };
}
