import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requireBinaries } from './deps.js';
import { canConnect, freePort, retryOnPortClash } from './ports.js';
import { runCommand, startServerProcess, type ServerProcess, restartable, type Restartable } from './process.js';
import { makeTempDir } from './tmpdir.js';

export interface NginxSite {
  /** Directory served at /. */
  root: string;
  /** Serve https with this certificate and key (PEM paths) instead of plain http. */
  ssl?: { cert: string; key: string };
  /** Extra directives inside the server block, e.g. 'location /x { return 204; }'. */
  directives?: string;
}

export interface NginxOptions {
  /** Each site gets its own random port on 127.0.0.1, in the same order in `ports`. */
  sites?: NginxSite[];
  /** Raw server blocks, for cases `sites` cannot express; render them with renderServerBlock. */
  serverBlocks?: string;
}

export interface NginxServer extends Restartable {
  /** One port per entry of `sites`. */
  ports: number[];
  /** Directory holding the config, logs, pid file and temp dirs (nginx's -p prefix). */
  prefix: string;
  confFile: string;
  pidFile: string;
  accessLog: string;
  errorLog: string;
  /** Shell command that reloads this nginx, for a deploy hook in an agent config. */
  reloadCommand: string;
  readonly pid: number;
  /** `nginx -s reload`; resolves once the signal is sent (nginx swaps workers asynchronously). */
  reload(): Promise<void>;
  /** `nginx -s reopen`: reopen log files, as after a rotation. */
  reopen(): Promise<void>;
}

/** A server block listening on 127.0.0.1:port serving site.root, over TLS when site.ssl is given. */
export function renderServerBlock(port: number, site: NginxSite): string {
  const lines = [
    'server {',
    `  listen 127.0.0.1:${port}${site.ssl ? ' ssl' : ''};`,
    '  server_name localhost;',
    `  root ${site.root};`,
  ];
  if (site.ssl) lines.push(`  ssl_certificate ${site.ssl.cert};`, `  ssl_certificate_key ${site.ssl.key};`);
  if (site.directives) lines.push(`  ${site.directives}`);
  lines.push('}');
  return lines.join('\n');
}

/** nginx with master and one worker, in the foreground, everything (config, logs, pid) in a temp dir. */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  const bin = requireBinaries(['nginx']);
  const tmp = await makeTempDir('nginx');
  try {
    const prefix = tmp.path;
    const file = (name: string) => path.join(prefix, name);
    await mkdir(file('temp'));
    const baseArgs = ['-c', file('nginx.conf'), '-p', prefix, '-e', file('error.log')];

    let ports: number[] = [];
    let current: ServerProcess | undefined;
    const launch = async () => {
      current = await startServerProcess({
        name: 'nginx',
        command: bin.nginx,
        args: baseArgs,
        cwd: prefix,
        // nginx writes its pid file after binding every listener, so a pid file naming this process means ready.
        isReady: async (pid) =>
          (await readFile(file('nginx.pid'), 'utf8')).trim() === String(pid) &&
          (await Promise.all(ports.map((port) => canConnect(port)))).every(Boolean),
      });
    };

    await retryOnPortClash(async () => {
      ports = await Promise.all((options.sites ?? []).map(() => freePort()));
      await writeFile(file('nginx.conf'), renderConfig(prefix, ports, options));
      await launch();
    });

    const signal = (name: string) => runCommand(bin.nginx, [...baseArgs, '-s', name]).then(() => undefined);
    const down = async () => {
      await current?.stop();
    };
    return {
      ports,
      prefix,
      confFile: file('nginx.conf'),
      pidFile: file('nginx.pid'),
      accessLog: file('access.log'),
      errorLog: file('error.log'),
      reloadCommand: [bin.nginx, ...baseArgs, '-s', 'reload'].join(' '),
      get pid() {
        return current!.pid;
      },
      reload: () => signal('reload'),
      reopen: () => signal('reopen'),
      ...restartable({ down, launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}

function renderConfig(prefix: string, ports: number[], options: NginxOptions): string {
  const file = (name: string) => path.join(prefix, name);
  const sites = (options.sites ?? []).map((site, i) => renderServerBlock(ports[i]!, site));
  return `daemon off;
master_process on;
worker_processes 1;
${process.getuid?.() === 0 ? '# Test dirs are root-only (mode 0700), so workers must be root to read them.\nuser root root;' : ''}
pid ${file('nginx.pid')};
error_log ${file('error.log')} notice;
error_log stderr notice;
events { worker_connections 256; }
http {
  access_log ${file('access.log')};
  client_body_temp_path ${file('temp/body')};
  proxy_temp_path ${file('temp/proxy')};
  fastcgi_temp_path ${file('temp/fastcgi')};
  uwsgi_temp_path ${file('temp/uwsgi')};
  scgi_temp_path ${file('temp/scgi')};
  default_type application/octet-stream;
  types { text/html html; text/plain txt; application/json json; }
${[...sites, options.serverBlocks ?? ''].join('\n')}
}
`;
}
