import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRotated, type RotatedFile } from '../../../src/modules/logs/naming.js';
import { selectForCompression, selectForPruning } from '../../../src/modules/logs/prune.js';

const DAY = 86_400_000;
const dated = (names: string[]) => names.map((n) => parseRotated('a.log', n, 'dateext')!);

test('keep retains the newest N rotations', () => {
  const files = dated(['a.log-20260101T000000Z.gz', 'a.log-20260103T000000Z.gz', 'a.log-20260102T000000Z.gz', 'a.log-20260104T000000Z']);
  const doomed = selectForPruning({ files, keep: 2, nowMs: Date.UTC(2026, 0, 5), mtimeMs: () => 0 });
  assert.deepEqual(doomed.map((f) => f.name).sort(), ['a.log-20260101T000000Z.gz', 'a.log-20260102T000000Z.gz']);
});

test('maxAge deletes by the time in the name (dateext) or mtime (numbered)', () => {
  const files = dated(['a.log-20260101T000000Z.gz', 'a.log-20260104T000000Z.gz']);
  const doomed = selectForPruning({ files, keep: 10, maxAgeMs: 2 * DAY, nowMs: Date.UTC(2026, 0, 5), mtimeMs: () => 0 });
  assert.deepEqual(doomed.map((f) => f.name), ['a.log-20260101T000000Z.gz']);

  const numbered = ['a.log.1', 'a.log.2.gz'].map((n) => parseRotated('a.log', n, 'numbered')!);
  const mtimes: Record<string, number> = { 'a.log.1': 10 * DAY, 'a.log.2.gz': 1 * DAY };
  const old = selectForPruning({ files: numbered, keep: 10, maxAgeMs: 5 * DAY, nowMs: 11 * DAY, mtimeMs: (f: RotatedFile) => mtimes[f.name]! });
  assert.deepEqual(old.map((f) => f.name), ['a.log.2.gz']);
});

test('keep 0 deletes every rotated file', () => {
  assert.equal(selectForPruning({ files: dated(['a.log-20260101T000000Z']), keep: 0, nowMs: 0, mtimeMs: () => 0 }).length, 1);
});

test('delayCompress leaves the newest rotated file uncompressed', () => {
  const files = dated(['a.log-20260101T000000Z.gz', 'a.log-20260102T000000Z', 'a.log-20260103T000000Z']);
  assert.deepEqual(selectForCompression(files, true).map((f) => f.name), ['a.log-20260102T000000Z']);
  assert.deepEqual(selectForCompression(files, false).map((f) => f.name), ['a.log-20260103T000000Z', 'a.log-20260102T000000Z']);
});
