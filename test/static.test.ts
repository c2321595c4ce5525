import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => `${root}node_modules/.bin/${name}`;

test('the whole tree type-checks (src and tests, strict)', () => {
  const result = spawnSync(bin('tsc'), ['--noEmit', '-p', 'test/tsconfig.json'], { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('imports respect the rooms of STYLE.md (dependency-cruiser)', () => {
  const result = spawnSync(bin('depcruise'), ['--config', '.dependency-cruiser.cjs', 'src'], { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('the cycle rule counts type-only imports: two files that import each other only for types fail the lint', () => {
  const result = spawnSync(bin('depcruise'), ['--config', '.dependency-cruiser.cjs', 'test/fixtures/lint/type-cycle'], { cwd: root, encoding: 'utf8' });
  assert.notEqual(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /no-circular: test\/fixtures\/lint\/type-cycle\/a\.ts/);
});
