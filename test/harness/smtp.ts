import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServerCerts } from './certs.js';
import { canConnect, freePort, retryOnPortClash } from './ports.js';
import { startServerProcess } from './process.js';

/** Debian's interpreter, where python3-aiosmtpd installs (a pyenv or venv python on PATH would not have it). */
const PYTHON = '/usr/bin/python3';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message: headers, blank line, body. */
  data: string;
  /** The session was encrypted (STARTTLS or implicit TLS). */
  tls: boolean;
  /** The user the session authenticated as, or null. */
  user: string | null;
}

export interface SmtpServerOptions {
  /** Where the script is written. */
  dir: string;
  certs: ServerCerts;
  /** `starttls`: plain connection that must upgrade (submission, 587); `tls`: TLS from the first byte (465). */
  mode: 'starttls' | 'tls';
  user: string;
  password: string;
}

export interface SmtpServer {
  port: number;
  /** The messages accepted so far, in order. */
  received(): ReceivedMail[];
  stop(): Promise<void>;
}

// AUTH is required, and offered only over TLS; a wrong password gets 535, as a real submission server answers.
// Mail to busy@example.com gets a temporary 451, to nobody@example.com a permanent 550.
const SCRIPT = String.raw`
import asyncio, json, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

mode, port, cert, key, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        if 'busy@example.com' in envelope.rcpt_tos:
            return '451 4.3.0 mailbox busy, try again later'
        if 'nobody@example.com' in envelope.rcpt_tos:
            return '550 5.1.1 no such user'
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        print('MAIL ' + json.dumps({'from': envelope.mail_from, 'to': envelope.rcpt_tos, 'data': envelope.content.decode('utf8', 'replace'),
                                    'tls': server.transport.get_extra_info('ssl_object') is not None, 'user': login}), flush=True)
        return '250 OK'

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
common = dict(hostname='127.0.0.1', port=port, authenticator=authenticator, auth_required=True)
if mode == 'tls':
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this session is TLS from the first byte.
    controller = Controller(Handler(), ssl_context=context, auth_require_tls=False, **common)
else:
    controller = Controller(Handler(), tls_context=context, require_starttls=True, auth_require_tls=True, **common)
controller.start()
print('READY', flush=True)
try:
    asyncio.new_event_loop().run_forever()
finally:
    controller.stop()
`;

/** A real SMTP server (python3-aiosmtpd) on loopback with TLS from the test CA and AUTH that checks user and password. */
export async function startSmtpServer(options: SmtpServerOptions): Promise<SmtpServer> {
  const script = path.join(options.dir, 'smtp-server.py');
  await writeFile(script, SCRIPT);
  const { server, port } = await retryOnPortClash(async () => {
    const candidate = await freePort();
    const started = await startServerProcess({
      name: `aiosmtpd (${options.mode})`,
      command: PYTHON,
      args: [script, options.mode, String(candidate), options.certs.cert, options.certs.key, options.user, options.password],
      isReady: () => canConnect(candidate),
      readyTimeoutMs: 15_000,
    });
    return { server: started, port: candidate };
  });
  return {
    port,
    received: () =>
      server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('MAIL '))
        .map((line) => JSON.parse(line.slice(5)) as ReceivedMail),
    stop: () => server.stop(),
  };
}
