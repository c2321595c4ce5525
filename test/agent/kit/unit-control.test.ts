import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExecError } from '../../../src/agent/kit/exec.js';
import { controlledUnits, runShellCommand, shellCommand, unitControlProblem } from '../../../src/agent/kit/unit-control.js';

test('the units a command reloads or restarts through systemctl', () => {
  assert.deepEqual(controlledUnits('systemctl reload nginx'), ['nginx.service']);
  assert.deepEqual(controlledUnits('nginx -t && /usr/bin/systemctl --no-block try-reload-or-restart nginx.service php8.2-fpm'), ['nginx.service', 'php8.2-fpm.service']);
  assert.deepEqual(controlledUnits('systemctl restart haproxy.socket; echo done'), ['haproxy.socket']);
  assert.deepEqual(controlledUnits('nginx -s reload'), []);
  assert.deepEqual(controlledUnits('systemctl status nginx'), [], 'only the verbs the rule grants');
  assert.deepEqual(controlledUnits('echo systemctl reload nginx'), [], 'a word in another command');
});

test('refused for a unit the service may not control, with both fixes; allowed when listed, and for root without a list', () => {
  const service = { allowed: ['nginx.service'], root: false };
  assert.equal(unitControlProblem('systemctl reload nginx', service), undefined);
  const problem = unitControlProblem('systemctl reload apache2', service) ?? '';
  assert.match(problem, /needs permission the caretaker service user does not have for apache2\.service/);
  assert.match(problem, /sudo \/opt\/caretaker\/install\.sh --allow-unit apache2\.service/);
  assert.match(problem, /apachectl graceful/);
  assert.match(unitControlProblem('systemctl reload nginx', { allowed: undefined, root: false }) ?? '', /nginx -s reload/);
  assert.equal(unitControlProblem('systemctl reload nginx', { allowed: undefined, root: true }), undefined);
  // An installed host's list also holds for root's check-config, so it answers as the daemon will.
  assert.ok(unitControlProblem('systemctl reload postgresql', { allowed: ['nginx.service'], root: true }));
});

test('the schema piece reports the problem on the command key', () => {
  const result = shellCommand(() => ({ allowed: [], root: false })).safeParse('systemctl reload nginx');
  assert.equal(result.success, false);
  assert.match(result.error?.issues[0]?.message ?? '', /--allow-unit nginx\.service/);
  assert.equal(shellCommand(() => ({ allowed: [], root: false })).safeParse('nginx -s reload').success, true);
});

test('a systemctl that systemd refused at run time names the fix (exit 4, "See system logs")', async () => {
  // A shell function stands in for systemctl's answer when polkit says no; the policy itself is tested in the e2e.
  const command = 'systemctl() { echo "Failed to reload nginx.service: Access denied" >&2; echo "See system logs and \'systemctl status nginx.service\' for details." >&2; return 4; }; systemctl reload nginx';
  await assert.rejects(runShellCommand(command, { timeoutMs: 5000 }), (err: unknown) => {
    assert.ok(err instanceof ExecError);
    assert.equal(err.exitCode, 4);
    assert.match(err.message, /systemd refused the caretaker user: allow it with `sudo \/opt\/caretaker\/install\.sh --allow-unit nginx\.service`/);
    return true;
  });
  await assert.rejects(runShellCommand('exit 3', { timeoutMs: 5000 }), (err: Error) => !/allow-unit/.test(err.message));
});
