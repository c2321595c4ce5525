import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { formatListen, listenAddress, type ListenAddress } from '../../../agent/kit/schema.js';
import { tlsClient, tlsConnectOptions } from '../../../agent/kit/tls.js';
import { failure } from '../classify.js';
import { commonProbeFields, type CheckOutcome, type Checker } from './kind.js';
import { certNotAfterSeconds } from '../tls-options.js';

export const tcpProbeConfig = z.strictObject({
  ...commonProbeFields,
  type: z.literal('tcp').meta({ description: 'tcp: open a connection (and optionally a TLS session), then close it' }),
  address: listenAddress().meta({ description: 'host:port, [v6]:port, or unix:/path for a socket file' }),
  tls: tlsClient().optional().meta({ description: 'also complete a TLS handshake (tls: {} for the defaults)' }),
});
export type TcpProbeConfig = z.output<typeof tcpProbeConfig>;

export function tcpTarget(config: TcpProbeConfig): string {
  return `${config.tls ? 'tls' : 'tcp'}://${formatListen(config.address)}`;
}

function connectOptions(address: ListenAddress): net.NetConnectOpts {
  return address.kind === 'unix' ? { path: address.path } : { host: address.host, port: address.port };
}

/** Opens a connection (and a TLS session) and closes it at once: there is nothing to keep between checks. */
export function createTcpChecker(config: TcpProbeConfig): Checker {
  const open = new Set<net.Socket>();
  return {
    async check(signal) {
      const host = config.address.kind === 'tcp' ? config.address.host : 'localhost';
      const secure = config.tls ? await tlsConnectOptions(config.tls, host) : undefined;
      return new Promise<CheckOutcome>((resolve) => {
        const socket = secure
          ? tls.connect({ ...connectOptions(config.address), ...secure })
          : net.connect(connectOptions(config.address));
        open.add(socket);
        const done = (outcome: CheckOutcome) => {
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
          open.delete(socket);
          resolve(outcome);
        };
        const onAbort = () => done({ ok: false, reason: 'timeout', message: 'cancelled' });
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('error', (err) => done(failure(err, undefined, 'refused')));
        socket.once(secure ? 'secureConnect' : 'connect', () => {
          if (!(socket instanceof tls.TLSSocket)) {
            done({ ok: true, reason: 'ok', message: 'connected' });
            return;
          }
          const notAfter = certNotAfterSeconds(socket.getPeerCertificate());
          done({
            ok: true,
            reason: 'ok',
            message: `connected, ${socket.getProtocol() ?? 'TLS'}`,
            ...(notAfter === undefined ? {} : { series: { caretaker_probe_tcp_cert_not_after_timestamp_seconds: notAfter } }),
          });
        });
      });
    },
    async close() {
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}
