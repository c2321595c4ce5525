import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requireBinaries } from './deps.js';
import { canConnect, freePort, retryOnPortClash } from './ports.js';
import { runCommand, startServerProcess, restartable, type Restartable, type ServerProcess } from './process.js';
import { makeTempDir } from './tmpdir.js';

export interface SshServer extends Restartable {
  port: number;
  /** A directory the sftp user (root, the test's user) may write, for repositories. */
  dataDir: string;
  /** The ssh command line restic's sftp.command takes: key auth, this server's host key pinned, no prompts. */
  sshCommand: string;
  /** A restic sftp repository URL for `name` under dataDir. */
  repository(name: string): string;
  /**
   * A remote that stops answering without closing its connections (a hung host or storage): every open
   * session is stopped (SIGSTOP), so the client's writes go unanswered; new connections still work.
   * down() or stop() ends the frozen sessions.
   */
  freeze(): Promise<void>;
}

/** The processes below `root` (sshd's per-connection sessions: they start their own sessions, so the group kill misses them). */
async function descendantsOf(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command name: state, then the parent's pid.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(Number(name), ppid);
  }
  const found = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (found.has(ppid) && !found.has(pid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  found.delete(root);
  return [...found];
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Exited meanwhile.
    }
  }
}

/**
 * An OpenSSH sshd on 127.0.0.1 and a random port, with its own host key, config and authorized_keys in a
 * temp dir (the system's sshd_config and host keys are never read). Key auth only, for the test's own user.
 * sshd insists on its privilege separation directory (/run/sshd, normally made by its systemd unit).
 * down() is the host going away: sshd and its open sessions are killed, so a transfer in progress breaks.
 */
export async function startSshd(): Promise<SshServer> {
  const bin = requireBinaries(['sshd', 'ssh-keygen', 'ssh']);
  const tmp = await makeTempDir('sshd');
  try {
    const hostKey = path.join(tmp.path, 'host_ed25519');
    const clientKey = path.join(tmp.path, 'client_ed25519');
    const dataDir = path.join(tmp.path, 'data');
    await mkdir(dataDir);
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    await runCommand(bin['ssh-keygen'], ['-q', '-t', 'ed25519', '-N', '', '-C', 'caretaker-test-host', '-f', hostKey]);
    await runCommand(bin['ssh-keygen'], ['-q', '-t', 'ed25519', '-N', '', '-C', 'caretaker-test-client', '-f', clientKey]);
    await writeFile(path.join(tmp.path, 'authorized_keys'), await readFile(`${clientKey}.pub`), { mode: 0o600 });
    const hostPublic = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    const knownHosts = path.join(tmp.path, 'known_hosts');
    const config = path.join(tmp.path, 'sshd_config');

    let port = 0;
    let current: ServerProcess | undefined;
    /** Sessions stopped by freeze(): no longer below sshd once it is down, so kept here to be killed. */
    const frozen = new Set<number>();
    const down = async () => {
      // Collected before sshd exits: its sessions are reparented then.
      const sessions = current ? await descendantsOf(current.pid) : [];
      await current?.stop();
      signal([...sessions, ...frozen], 'SIGKILL');
      frozen.clear();
    };
    const launch = async () => {
      current = await startServerProcess({
        name: 'sshd',
        command: bin.sshd,
        args: ['-D', '-e', '-f', config],
        isReady: () => canConnect(port),
      });
    };
    await retryOnPortClash(async () => {
      port = await freePort();
      await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPublic}\n`);
      await writeFile(
        config,
        [
          `Port ${port}`,
          'ListenAddress 127.0.0.1',
          `HostKey ${hostKey}`,
          `AuthorizedKeysFile ${path.join(tmp.path, 'authorized_keys')}`,
          `PidFile ${path.join(tmp.path, 'sshd.pid')}`,
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          'UsePAM no',
          // The temp dir is under /tmp (mode 1777), which StrictModes rejects for authorized_keys.
          'StrictModes no',
          'Subsystem sftp internal-sftp',
          'LogLevel ERROR',
        ].join('\n') + '\n',
      );
      await launch();
    });
    const user = (await runCommand('id', ['-un'])).trim();
    const sshCommand = [
      bin.ssh,
      '-i', clientKey,
      '-p', String(port),
      '-F', '/dev/null',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'ConnectTimeout=5',
      '-o', 'ServerAliveInterval=2',
      '-o', 'ServerAliveCountMax=2',
      `${user}@127.0.0.1`,
      '-s', 'sftp',
    ].join(' ');
    return {
      get port() {
        return port;
      },
      dataDir,
      sshCommand,
      repository: (name) => `sftp:${user}@127.0.0.1:${path.join(dataDir, name)}`,
      async freeze() {
        const sessions = current ? await descendantsOf(current.pid) : [];
        for (const pid of sessions) frozen.add(pid);
        signal(sessions, 'SIGSTOP');
      },
      ...restartable({ down, launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}
