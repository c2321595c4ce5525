import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basename } from 'node:path';
import { tempPathFor } from '../../../src/agent/kit/atomic-file.js';
import { dateStamp, isCompressionTemp, looksRotatedOrTemp, newestFirst, nextDateName, numberedShiftPlan, parseRotated } from '../../../src/modules/logs/naming.js';

const at = new Date('2026-11-23T15:04:05.678Z');

test('dateext names carry date and time in UTC, so two rotations a day never collide', () => {
  assert.equal(dateStamp(at), '20261123T150405Z');
  assert.equal(nextDateName('access.log', at, new Set()), 'access.log-20261123T150405Z');
  const later = new Date('2026-11-23T18:00:00Z');
  assert.equal(nextDateName('access.log', later, new Set(['access.log-20261123T150405Z.gz'])), 'access.log-20261123T180000Z');
});

test('a second rotation within the same second gets a sequence number', () => {
  const taken = new Set(['access.log-20261123T150405Z.gz']);
  assert.equal(nextDateName('access.log', at, taken), 'access.log-20261123T150405Z-2');
  taken.add('access.log-20261123T150405Z-2');
  assert.equal(nextDateName('access.log', at, taken), 'access.log-20261123T150405Z-3');
});

test('parseRotated recognises only rotations of that exact live file', () => {
  const parsed = parseRotated('access.log', 'access.log-20261123T150405Z-2.gz', 'dateext');
  assert.deepEqual(parsed, { name: 'access.log-20261123T150405Z-2.gz', base: 'access.log', compressed: true, stampMs: Date.UTC(2026, 10, 23, 15, 4, 5), index: 2 });
  assert.equal(parseRotated('access.log', 'access.log', 'dateext'), undefined);
  assert.equal(parseRotated('access.log', 'access.log.bak', 'dateext'), undefined);
  assert.equal(parseRotated('access.log', 'access.log-20261123T150405Z.txt', 'dateext'), undefined);
  assert.equal(parseRotated('access.log', 'access.log-20261399T150405Z', 'dateext'), undefined, 'an impossible date');
  assert.equal(parseRotated('access', 'access.log-20261123T150405Z', 'dateext'), undefined, 'another live file');
  assert.equal(parseRotated('app.log', 'app.log.3.gz', 'numbered')?.index, 3);
  assert.equal(parseRotated('app.log', 'app.log.0', 'numbered'), undefined);
  assert.equal(parseRotated('app.log', 'app.log.x', 'numbered'), undefined);
  assert.equal(parseRotated('app.log', 'app.log.1', 'dateext'), undefined, 'naming decides what is ours');
});

test('newest first ordering', () => {
  const files = ['a-20261123T150405Z', 'a-20261124T000000Z.gz', 'a-20261123T150405Z-2'].map((n) => parseRotated('a', n, 'dateext')!);
  assert.deepEqual(files.sort(newestFirst).map((f) => f.name), ['a-20261124T000000Z.gz', 'a-20261123T150405Z-2', 'a-20261123T150405Z']);
  const numbered = ['a.3.gz', 'a.1', 'a.2.gz'].map((n) => parseRotated('a', n, 'numbered')!);
  assert.deepEqual(numbered.sort(newestFirst).map((f) => f.name), ['a.1', 'a.2.gz', 'a.3.gz']);
});

test('numbered shifting renames the highest first and keeps the .gz suffix', () => {
  const existing = ['a.1', 'a.2.gz', 'a.3.gz'].map((n) => parseRotated('a', n, 'numbered')!);
  assert.deepEqual(numberedShiftPlan('a', existing), [
    { from: 'a.3.gz', to: 'a.4.gz' },
    { from: 'a.2.gz', to: 'a.3.gz' },
    { from: 'a.1', to: 'a.2' },
  ]);
});

test('globs never take rotated or temp files for live logs', () => {
  for (const name of ['x.log-20261123T150405Z', 'x.log.gz', 'x.log.3', '.x.log.abc.tmp']) assert.equal(looksRotatedOrTemp(name), true, name);
  for (const name of ['x.log', 'error_log', 'x.log.old']) assert.equal(looksRotatedOrTemp(name), false, name);
});

test('a compression temp file is recognised by our own naming only: of a compressed rotation of this base', () => {
  const temp = (name: string) => basename(tempPathFor(`/var/log/${name}`));
  assert.ok(isCompressionTemp('app.log', temp('app.log-20261123T150405Z.gz'), 'dateext'));
  assert.ok(isCompressionTemp('app.log', temp('app.log-20261123T150405Z-2.gz'), 'dateext'));
  assert.ok(isCompressionTemp('app.log', temp('app.log.3.gz'), 'numbered'));
  for (const stranger of [
    '.app.log-20261123T150405Z.gz.notes.tmp', // not 12 hex digits
    '.app.log-20261123T150405Z.gz.0123456789AB.tmp', // upper case: not ours
    '.app.log-20261123T150405Z.gz.0123456789ab.tmp.bak',
    'app.log-20261123T150405Z.gz.0123456789ab.tmp', // not hidden
    temp('app.log-20261123T150405Z'), // an uncompressed target: compress.ts never writes one
    temp('app.log'), // the live file's name
    temp('other.log-20261123T150405Z.gz'), // another log's rotation
    temp('app.log.3.gz'), // numbered, while the set uses dateext
  ]) {
    assert.equal(isCompressionTemp('app.log', stranger, 'dateext'), false, stranger);
  }
});
