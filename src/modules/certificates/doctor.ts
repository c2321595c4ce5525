import { randomBytes } from 'node:crypto';
import { chown, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import type { DoctorContext, DoctorLine } from '../../agent/kit/doctor.js';
import { userMay, writablePathLine } from '../../agent/kit/doctor.js';
import { describeError } from '../../agent/kit/errors.js';
import { execFile } from '../../agent/kit/exec.js';
import { certbotConflicts } from './adopt/conflicts.js';
import type { CertConfig, CertificatesConfig } from './config.js';
import { WebrootSolver } from './kinds/http01-webroot.js';
import type { ChallengeTask } from './kinds/kind.js';

const HTTP_TIMEOUT_MS = 5_000;

/** The user nginx's workers run as (the one that reads the webroot), or www-data when that user exists. */
async function webServerUser(): Promise<string | undefined> {
  const workers = await execFile('ps', ['-o', 'user=', '-C', 'nginx'], { timeoutMs: 5_000 }).then((r) => r.stdout, () => '');
  const user = workers.split('\n').map((u) => u.trim()).find((u) => u !== '' && u !== 'root');
  if (user) return user;
  return execFile('id', ['-u', 'www-data'], { timeoutMs: 5_000 }).then(() => 'www-data', () => undefined);
}

/** GET of a challenge path on `address:port` with the domain as Host: the status and the body's start. */
function fetchChallenge(address: string, port: number, domain: string, path: string, signal: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host: domain }, timeout: HTTP_TIMEOUT_MS, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${HTTP_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Directories the self-test made as root are handed to the service user, as if the daemon had made them. */
async function handBack(webroot: string, before: Set<string>, user: string | undefined): Promise<void> {
  if (process.getuid?.() !== 0 || !user) return;
  const { stdout } = await execFile('id', ['-u', user], { timeoutMs: 5_000 });
  const { stdout: gid } = await execFile('id', ['-g', user], { timeoutMs: 5_000 });
  for (const dir of [join(webroot, '.well-known'), join(webroot, '.well-known', 'acme-challenge')]) {
    if (!before.has(dir)) await chown(dir, Number(stdout), Number(gid)).catch(() => undefined);
  }
}

async function existing(dirs: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const dir of dirs) if (await stat(dir).then(() => true, () => false)) found.add(dir);
  return found;
}

/**
 * The http-01 path end to end from this host: a token in the webroot, readable by the web server's user, served
 * on port 80 of the address each domain resolves to (NAT or not, that is the way the CA comes in).
 */
async function webrootLines(cert: CertConfig, webroot: string, ctx: DoctorContext): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [await writablePathLine(`webroot ${cert.name}`, webroot, ctx.sandbox)];
  if (lines[0]!.status === 'fail') return lines;
  const solver = new WebrootSolver(webroot);
  const before = await existing([join(webroot, '.well-known'), join(webroot, '.well-known', 'acme-challenge')]);
  const token = `caretaker-doctor-${randomBytes(9).toString('base64url')}`;
  const content = `${token}.${randomBytes(9).toString('base64url')}`;
  const task: ChallengeTask = { domain: cert.domains[0]!, wildcard: false, token, keyAuthorization: content };
  try {
    await solver.open();
    await solver.present(task);
  } catch (err) {
    return [...lines, { status: 'fail', check: `webroot ${cert.name}`, detail: describeError(err) }];
  }
  const tokenFile = join(webroot, '.well-known', 'acme-challenge', token);
  try {
    const reader = await webServerUser();
    if (reader) {
      lines.push(
        (await userMay(reader, 'r', tokenFile))
          ? { status: 'ok', check: `webroot ${cert.name}`, detail: `${reader} (the web server) reads ${webroot}/.well-known/acme-challenge/` }
          : { status: 'fail', check: `webroot ${cert.name}`, detail: `${reader} (the web server) cannot read ${tokenFile}: the CA would get 403`, fix: `chmod o+rx (or give ${reader} a group with rx on) every directory from ${webroot} down` },
      );
    }
    for (const domain of cert.domains.filter((d) => !d.startsWith('*.'))) lines.push(await domainLine(cert, domain, token, content, ctx));
  } finally {
    await solver.remove(task).catch(() => undefined);
    await handBack(webroot, before, ctx.sandbox?.user);
  }
  return lines;
}

async function domainLine(cert: CertConfig, domain: string, token: string, content: string, ctx: DoctorContext): Promise<DoctorLine> {
  const check = `http-01 ${domain}`;
  let addresses: string[];
  try {
    addresses = await ctx.resolve(domain);
  } catch (err) {
    return { status: 'fail', check, detail: `${domain} does not resolve (${describeError(err)})`, fix: `point the DNS record of ${domain} (A/AAAA) at this server` };
  }
  const address = addresses[0];
  if (!address) return { status: 'fail', check, detail: `${domain} has no address`, fix: `point the DNS record of ${domain} at this server` };
  const path = `/.well-known/acme-challenge/${token}`;
  try {
    const answer = await fetchChallenge(address, ctx.httpPort, domain, path, ctx.signal);
    if (answer.status === 200 && answer.body.trim() === content) {
      return { status: 'ok', check, detail: `${domain} → ${address}:${ctx.httpPort} serves the challenge from the webroot` };
    }
    return {
      status: 'fail',
      check,
      detail: `${domain} → ${address}:${ctx.httpPort} answered ${answer.status}${answer.status === 200 ? ' with other content' : ''} for a token in the webroot: the CA would fail too`,
      fix: `check that ${domain} points here and that the web server on port ${ctx.httpPort} serves /.well-known/acme-challenge/ from ${cert.challenge.type === 'http-01' && 'webroot' in cert.challenge ? cert.challenge.webroot : 'the webroot'}`,
    };
  } catch (err) {
    return { status: 'fail', check, detail: `${domain} → ${address}:${ctx.httpPort}: ${describeError(err)}`, fix: `point ${domain} at this server and open port ${ctx.httpPort} to the internet` };
  }
}

export async function certificatesDoctor(config: CertificatesConfig, ctx: DoctorContext): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [await writablePathLine('certificates dir', config.dir, ctx.sandbox)];
  for (const cert of config.certs) {
    if (cert.challenge.type === 'http-01' && 'webroot' in cert.challenge) lines.push(...(await webrootLines(cert, cert.challenge.webroot, ctx)));
  }
  for (const conflict of await certbotConflicts(config.dir, config.certs.map((c) => c.name))) {
    lines.push({ status: 'warn', check: `certbot ${conflict.item}`, detail: conflict.detail, fix: conflict.fix });
  }
  return lines;
}

