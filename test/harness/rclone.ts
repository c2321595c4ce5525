import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requireBinaries } from './deps.js';
import { canConnect, freePort, retryOnPortClash } from './ports.js';
import { startServerProcess, restartable, type Restartable, type ServerProcess } from './process.js';
import { makeTempDir } from './tmpdir.js';

export interface RcloneRestServer extends Restartable {
  port: number;
  /** Where the repositories' files are, to look at them from the test. */
  dataDir: string;
  user: string;
  password: string;
  /** rest:http://user:password@127.0.0.1:port/<name>/ */
  repository(name: string): string;
}

/** `rclone serve restic` on 127.0.0.1 and a random port over a local directory, with basic auth and an empty rclone config. */
export async function startRcloneRestic(): Promise<RcloneRestServer> {
  const bin = requireBinaries(['rclone']);
  const tmp = await makeTempDir('rclone');
  try {
    const dataDir = path.join(tmp.path, 'data');
    await mkdir(dataDir);
    const configFile = path.join(tmp.path, 'rclone.conf');
    await writeFile(configFile, '');
    const user = 'caretaker';
    const password = 'rest-' + Math.random().toString(36).slice(2, 12);
    let port = 0;
    let current: ServerProcess | undefined;
    const launch = async () => {
      current = await startServerProcess({
        name: 'rclone serve restic',
        command: bin.rclone,
        args: ['serve', 'restic', '--config', configFile, '--addr', `127.0.0.1:${port}`, '--user', user, '--pass', password, dataDir],
        isReady: () => canConnect(port),
      });
    };
    await retryOnPortClash(async () => {
      port = await freePort();
      await launch();
    });
    return {
      get port() {
        return port;
      },
      dataDir,
      user,
      password,
      repository: (name) => `rest:http://${user}:${password}@127.0.0.1:${port}/${name}/`,
      ...restartable({ down: async () => current?.stop(), launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}
