import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
}

/**
 * An OpenSSH sshd on 127.0.0.1 and a random port, with its own host key, config and authorized_keys in a
 * temp dir (the system's sshd_config and host keys are never read). Key auth only, for the test's own user.
 * sshd insists on its privilege separation directory (/run/sshd, normally made by its systemd unit).
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
      ...restartable({ down: async () => current?.stop(), launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}
