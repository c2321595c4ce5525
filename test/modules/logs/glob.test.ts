import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesAnyGlob, matchesGlob, segmentRegExp } from '../../../src/modules/logs/glob.js';

test('wildcards match inside one segment only', () => {
  assert.equal(matchesGlob('/var/log/nginx/access.log', '/var/log/nginx/*.log'), true);
  assert.equal(matchesGlob('/var/log/nginx/sub/access.log', '/var/log/nginx/*.log'), false);
  assert.equal(matchesGlob('/var/log/app1/out.log', '/var/log/app?/*.log'), true);
  assert.equal(matchesGlob('/var/log/app12/out.log', '/var/log/app?/*.log'), false);
});

test('character classes, ranges and negation', () => {
  assert.equal(matchesGlob('/l/a.log', '/l/[abc].log'), true);
  assert.equal(matchesGlob('/l/d.log', '/l/[a-c].log'), false);
  assert.equal(matchesGlob('/l/d.log', '/l/[!a-c].log'), true);
  assert.equal(matchesGlob('/l/a.log', '/l/[^a-c].log'), false);
  assert.equal(segmentRegExp('[x').test('[x'), true, 'an unclosed bracket is literal');
});

test('a leading wildcard never matches a hidden file, and regex characters are literal', () => {
  assert.equal(matchesGlob('/l/.secret.log', '/l/*.log'), false);
  assert.equal(matchesGlob('/l/.secret.log', '/l/.*.log'), true);
  assert.equal(matchesGlob('/l/a+b(1).log', '/l/a+b(1).log'), true);
  assert.equal(matchesGlob('/l/axlog', '/l/a.log'), false);
});

test('matchesAnyGlob', () => {
  assert.equal(matchesAnyGlob('/b/x.log', ['/a/*.log', '/b/*.log']), true);
  assert.equal(matchesAnyGlob('/c/x.log', ['/a/*.log', '/b/*.log']), false);
});
