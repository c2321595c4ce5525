import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { freePort } from '../harness/ports.js';
import { spawnCaretaker } from '../helpers/spawn.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'caretaker-signals-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

async function configFile(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, body);
  return path;
}

test('the real process: ready, SIGHUP reload (good and broken file), SIGINT exits 0 within 2 s', async () => {
  const [admin, metrics] = [await freePort(), await freePort()];
  const base = `agent: { stateDir: ${dir}/state }\nadmin: { listen: "127.0.0.1:${admin}" }\nmetrics: { listen: "127.0.0.1:${metrics}", host: false }\n`;
  const path = await configFile('run.yaml', base);
  const agent = spawnCaretaker(['run', '--config', path]);
  try {
    await agent.waitForLine((l) => l.msg === 'agent ready');
    assert.equal((await fetch(`http://127.0.0.1:${admin}/health`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${metrics}/metrics`)).status, 200);

    await writeFile(path, `${base.replace('logLevel', 'x')}agent2: {}\n`);
    agent.child.kill('SIGHUP');
    const refused = await agent.waitForLine((l) => l.msg === 'reload refused: invalid config; the running config stays');
    assert.match(JSON.stringify(refused.issues), /agent2/);
    assert.equal((await fetch(`http://127.0.0.1:${admin}/health`)).status, 200, 'still serving after a refused reload');

    await writeFile(path, base.replace('agent: {', 'agent: { logLevel: debug,'));
    agent.child.kill('SIGHUP');
    await agent.waitForLine((l) => l.msg === 'config reloaded');

    const started = Date.now();
    agent.child.kill('SIGINT');
    const { code } = await agent.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test('SIGTERM stops cleanly with exit 0', async () => {
  const path = await configFile('term.yaml', `agent: { stateDir: ${dir}/state }\nadmin: { listen: "127.0.0.1:${await freePort()}" }\nmetrics: { listen: "127.0.0.1:${await freePort()}", host: false }\n`);
  const agent = spawnCaretaker(['run', '--config', path]);
  await agent.waitForLine((l) => l.msg === 'agent ready');
  agent.child.kill('SIGTERM');
  assert.equal((await agent.exited).code, 0);
  assert.ok(agent.lines.some((l) => l.msg === 'agent stopped'));
});

test('an invalid config at start exits 78 naming every key, without a stack trace', async () => {
  const path = await configFile('bad.yaml', 'admin: { listen: nowhere }\nmetrics: { hots: true }\n');
  const agent = spawnCaretaker(['run', '--config', path]);
  const { code } = await agent.exited;
  assert.equal(code, 78);
  assert.match(agent.stderr(), /bad\.yaml:1:\d+: admin\.listen: 'nowhere' is not host:port/);
  assert.match(agent.stderr(), /metrics\.hots: unknown key \(did you mean 'host'\?\)/);
  assert.doesNotMatch(agent.stderr(), /^\s+at /m);
});

test('a port already in use is a clear start failure, not a hang', async () => {
  const port = await freePort();
  const blocker = (await import('node:net')).createServer().listen(port, '127.0.0.1');
  try {
    const path = await configFile('busy.yaml', `agent: { stateDir: ${dir}/state }\nadmin: { listen: "127.0.0.1:${port}" }\nmetrics: { listen: "127.0.0.1:${await freePort()}", host: false }\n`);
    const agent = spawnCaretaker(['run', '--config', path]);
    assert.equal((await agent.exited).code, 1);
    assert.match(agent.stderr(), /cannot start: .*EADDRINUSE/);
  } finally {
    blocker.close();
  }
});

const NOTIFY_FD_EXEC = fileURLToPath(new URL('../../systemd/notify-fd-exec', import.meta.url));

// Both ways out: the descriptor that the unit's notify-fd-exec opens (NotifyAccess=main), and
// systemd-notify as a child (NotifyAccess=all). Either way systemd must see the daemon's own PID.
for (const transport of ['notify-fd-exec', 'systemd-notify'] as const) {
  test(`systemd notify protocol through ${transport}: READY=1, RELOADING=1 then READY=1, STOPPING=1, WATCHDOG=1, from the daemon's PID`, async () => {
    const socketPath = join(dir, `${transport}.sock`);
    const received = join(dir, `${transport}.log`);
    // Node has no unix datagram sockets; python3 plays systemd's side of NOTIFY_SOCKET, reading the
    // sender's PID from SCM_CREDENTIALS as systemd does.
    const listener = spawn('python3', [
      '-c',
      [
        'import socket,struct,sys',
        's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)',
        's.bind(sys.argv[1])',
        's.setsockopt(socket.SOL_SOCKET,socket.SO_PASSCRED,1)',
        "print('ok',flush=True)",
        "with open(sys.argv[2],'a') as f:",
        '  while True:',
        '    msg,anc,_,_=s.recvmsg(4096,socket.CMSG_SPACE(12))',
        "    pid=[struct.unpack('iII',d)[0] for l,t,d in anc if t==socket.SCM_CREDENTIALS][0]",
        "    f.write(str(pid)+'\\t'+msg.decode().replace('\\n',' ')+'\\n'); f.flush()",
      ].join('\n'),
      socketPath,
      received,
    ]);
    await new Promise((resolve) => listener.stdout.once('data', resolve));
    const path = await configFile(`${transport}.yaml`, `agent: { stateDir: ${dir}/state }\nadmin: { listen: "127.0.0.1:${await freePort()}" }\nmetrics: { listen: "127.0.0.1:${await freePort()}", host: false }\n`);
    const env = { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '1000000' };
    const agent = transport === 'notify-fd-exec' ? spawnCaretaker(['run', '--config', path], env, ['perl', NOTIFY_FD_EXEC]) : spawnCaretaker(['run', '--config', path], env);
    try {
      await agent.waitForLine((l) => l.msg === 'agent ready');
      await sleep(1200);
      agent.child.kill('SIGHUP');
      await agent.waitForLine((l) => l.msg === 'config reloaded');
      await sleep(300);
      agent.child.kill('SIGTERM');
      assert.equal((await agent.exited).code, 0);
      await sleep(300);
      // systemd-notify follows each message with BARRIER=1 (sent as itself) so it outlives systemd's read of it.
      const records = (await readFile(received, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => line.split('\t') as [string, string])
        .filter(([, message]) => message !== 'BARRIER=1');
      assert.deepEqual([...new Set(records.map(([pid]) => Number(pid)))], [agent.child.pid], 'every message comes from the daemon itself');
      const messages = records.map(([, message]) => message);
      const kinds = messages.map((m) => (/READY=1|RELOADING=1|STOPPING=1|WATCHDOG=1/.exec(m) ?? ['?'])[0]);
      assert.equal(kinds[0], 'READY=1');
      assert.ok(kinds.includes('WATCHDOG=1'), messages.join('\n'));
      const reloading = kinds.indexOf('RELOADING=1');
      assert.ok(reloading > 0 && kinds.slice(reloading).includes('READY=1'), messages.join('\n'));
      assert.equal(kinds.filter((k) => k !== 'WATCHDOG=1').at(-1), 'STOPPING=1');
      assert.match(messages.find((m) => m.includes('RELOADING=1')) ?? '', /MONOTONIC_USEC=\d+/);
    } finally {
      agent.child.kill('SIGKILL');
      listener.kill('SIGKILL');
    }
  });
}
