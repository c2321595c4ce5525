import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError, EXIT, type CommandContext } from '../../../src/agent/kit/cli.js';
import { certsCommand } from '../../../src/modules/certificates/cli.js';
import type { CertificateView } from '../../../src/modules/certificates/cert-state.js';

const valid: CertificateView = {
  name: 'web',
  domains: ['web.example.com'],
  state: 'valid',
  serial: 'ABC',
  notAfter: '2026-06-01T00:00:00.000Z',
  nextRenewalAt: '2026-05-01T00:00:00.000Z',
  renewalReason: 'lifetime',
  consecutiveFailures: 0,
};

function fakeContext(args: string[], answers: Record<string, unknown>, json = false) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: string[] = [];
  const answer = async (method: string, path: string) => {
    calls.push(`${method} ${path}`);
    const value = answers[`${method} ${path}`];
    if (value instanceof Error) throw value;
    return value;
  };
  const ctx: CommandContext = {
    args,
    flags: {},
    json,
    client: { get: ((path: string) => answer('GET', path)) as CommandContext['client']['get'], post: ((path: string) => answer('POST', path)) as CommandContext['client']['post'] },
    loadSection: async () => ({}),
    configPath: '/nonexistent/caretaker.yaml',
    stateDir: async () => {
      throw new Error('this test has no state dir');
    },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    confirm: async () => false,
  };
  return { ctx, out, err, calls };
}

describe('caretaker certs', () => {
  test('lists as a table; exit 0 when all are valid', async () => {
    const { ctx, out } = fakeContext([], { 'GET /certs': { certificates: [valid] } });
    assert.equal(await certsCommand.run(ctx), EXIT.ok);
    assert.match(out[0]!, /^NAME\s+STATE\s+EXPIRES/);
    assert.match(out[0]!, /web\s+valid\s+2026-06-01 00:00\s+2026-05-01 00:00 \(lifetime\)\s+web\.example\.com/);
  });

  test('--json prints the API answer; a missing certificate exits 1', async () => {
    const { ctx, out } = fakeContext([], { 'GET /certs': { certificates: [{ ...valid, state: 'missing' }] } }, true);
    assert.equal(await certsCommand.run(ctx), EXIT.failure);
    assert.equal(JSON.parse(out[0]!)[0].state, 'missing');
  });

  test('exit 1 for every certificate that needs attention: a first order failed or running, a failing renewal', async () => {
    const never = { name: 'web', domains: ['web.example.com'], consecutiveFailures: 1, lastError: 'connection refused' };
    for (const cert of [
      { ...never, state: 'failed' },
      { ...never, state: 'renewing', consecutiveFailures: 0 },
      { ...valid, state: 'failed', consecutiveFailures: 2, lastError: 'rate limited' },
      { ...valid, state: 'expired' },
    ]) {
      const { ctx } = fakeContext([], { 'GET /certs': { certificates: [valid, cert] } });
      assert.equal(await certsCommand.run(ctx), EXIT.failure, JSON.stringify(cert));
    }
    const renewing = fakeContext([], { 'GET /certs': { certificates: [{ ...valid, state: 'renewing' }] } });
    assert.equal(await certsCommand.run(renewing.ctx), EXIT.ok, 'an on-time renewal with the old certificate in place');
  });

  test('renew NAME: success prints the new serial; failure prints the cause and exits 1', async () => {
    const ok = fakeContext(['renew', 'web'], { 'POST /certs/web/renew': { result: 'success', certificate: { ...valid, deploy: { ok: true, at: 'x' } } } });
    assert.equal(await certsCommand.run(ok.ctx), EXIT.ok);
    assert.match(ok.out[0]!, /renewed web: serial ABC, expires 2026-06-01 00:00, deployed/);
    const failed = fakeContext(['renew', 'web'], {
      'POST /certs/web/renew': { result: 'failure', certificate: { ...valid, state: 'failed', lastError: 'connection refused (ECONNREFUSED)', retryAt: '2026-05-01T00:05:00.000Z' } },
    });
    assert.equal(await certsCommand.run(failed.ctx), EXIT.failure);
    assert.match(failed.err[0]!, /renewal of web failed: connection refused \(ECONNREFUSED\) \(next retry 2026-05-01 00:05\)/);
  });

  test('a failed deploy exits 1; a 409 from the API propagates to the CLI runner', async () => {
    const deployFailed = fakeContext(['renew', 'web'], { 'POST /certs/web/renew': { result: 'success', certificate: { ...valid, deploy: { ok: false, at: 'x', message: 'exited with 1' } } } });
    assert.equal(await certsCommand.run(deployFailed.ctx), EXIT.failure);
    assert.match(deployFailed.out[0]!, /deploy FAILED: exited with 1/);
    const busy = fakeContext(['renew', 'web'], { 'POST /certs/web/renew': new ApiError(409, 'conflict', "certificate 'web' is already being renewed", {}) });
    await assert.rejects(certsCommand.run(busy.ctx), ApiError);
  });

  test('bad usage exits 64', async () => {
    const { ctx, err } = fakeContext(['renew'], {});
    assert.equal(await certsCommand.run(ctx), EXIT.usage);
    assert.match(err[0]!, /usage: caretaker certs \[renew NAME\]/);
  });
});
