import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatStatus, statusExitCode } from '../../src/agent/cli/output.js';
import type { StatusAnswer } from '../../src/agent/admin/answers.js';
import { baseConfig, startTestAgent } from '../helpers/agent.js';
import { widgets } from '../helpers/widgets-module.js';

test('a conflict a module reports shows in the log, /status, caretaker status and caretaker_conflicts until it is resolved', async () => {
  const t = await startTestAgent((dir) => baseConfig(dir, 'widgets:\n  - { name: a, alsoHandledElsewhere: true }\n  - { name: b }\n'), [widgets]);
  try {
    const status = (await (await fetch(t.adminUrl('/status'))).json()) as StatusAnswer;
    assert.deepEqual(status.conflicts, [
      { module: 'widgets', kind: 'othertool', item: 'a', detail: 'othertool also handles a (/etc/othertool.d/a)', fix: 'caretaker adopt othertool a' },
    ]);
    assert.match(formatStatus(status), /^conflict: widgets a: othertool also handles a \(\/etc\/othertool\.d\/a\); fix: caretaker adopt othertool a$/m);
    assert.equal(statusExitCode(status), 0, 'a warning, not a failure');
    assert.match(await (await fetch(t.metricsUrl())).text(), /^caretaker_conflicts\{module="widgets",kind="othertool"\} 1$/m);
    assert.ok(t.logs.some((l) => l.level === 'warn' && l.msg === 'conflict: othertool also handles a (/etc/othertool.d/a)' && l.fix === 'caretaker adopt othertool a'));

    await t.writeConfig(baseConfig(t.dir, 'widgets:\n  - { name: a }\n  - { name: b }\n'));
    await t.agent.reload();
    const after = (await (await fetch(t.adminUrl('/status'))).json()) as StatusAnswer;
    assert.deepEqual(after.conflicts, []);
    assert.doesNotMatch(formatStatus(after), /conflict:/);
    // /metrics renders at most once a second: the answer of the first scrape may still be cached.
    await sleep(1100);
    assert.match(await (await fetch(t.metricsUrl())).text(), /^caretaker_conflicts\{module="widgets",kind="othertool"\} 0$/m, 'kept at 0 once resolved');
  } finally {
    await t.close();
  }
});
