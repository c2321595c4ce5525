import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DETAIL_MAX_CHARS, renderEmail, renderText, renderTitle } from '../../../../src/modules/alerts/channels/render.js';
import { diskLow, firing, redisDown, resolved } from './fixture.js';

test('one firing alert: title, severity, summary, key, detail and since', () => {
  assert.equal(
    renderText(firing(redisDown)),
    ['[web1] FIRING: redis down', '', '[critical] redis down (probe:redis:down)', '  connect ECONNREFUSED 127.0.0.1:6379', '  since 2026-12-01 11:00:00 UTC'].join('\n'),
  );
});

test('a group: the count in the title, critical before warning', () => {
  const text = renderText(firing(diskLow, redisDown));
  assert.match(text, /^\[web1\] FIRING 2: \/var has 8 % free, \+1 more\n/);
  assert.ok(text.indexOf('[critical] redis down') < text.indexOf('[warning] /var has 8 % free'));
});

test('resolved: how long it fired; a resolve never seen firing shows its key', () => {
  const text = renderText(resolved(redisDown));
  assert.match(text, /^\[web1\] RESOLVED: redis down\n/);
  assert.match(text, /\[resolved\] redis down \(probe:redis:down\)/);
  assert.match(text, /firing since 2026-12-01 11:00:00 UTC, resolved 2026-12-01 11:05:00 UTC/);
  assert.equal(renderTitle(resolved({ ...redisDown, summary: '' })), '[web1] RESOLVED: probe:redis:down');
});

test('a mixed group says both counts', () => {
  const [gone] = resolved(diskLow).alerts;
  assert.equal(renderTitle({ status: 'firing', host: 'web1', alerts: [redisDown, gone!] }), '[web1] FIRING 1, RESOLVED 1: redis down, +1 more');
});

test('a test message says so', () => {
  const text = renderText({ ...firing(redisDown), test: true });
  assert.match(text, /^\[TEST\] \[web1\] FIRING: redis down\nThis is a test message/);
});

test('detail is bounded; a message past maxChars counts the alerts it leaves out', () => {
  const long = renderText(firing({ ...redisDown, detail: 'x'.repeat(5_000) }));
  assert.ok(long.includes(`${'x'.repeat(DETAIL_MAX_CHARS)}…`));
  assert.ok(!long.includes('x'.repeat(DETAIL_MAX_CHARS + 1)));

  const many = Array.from({ length: 100 }, (_, i) => ({ ...redisDown, key: `probe:p${i}:down`, summary: `p${i} down` }));
  const text = renderText(firing(...many), { maxChars: 1000 });
  assert.ok(text.length <= 1000, `${text.length}`);
  const listed = text.match(/^\[critical\]/gm)!.length;
  assert.match(text, new RegExp(`\\n… and ${100 - listed} more$`));
  assert.equal(renderText(firing(...many), { maxChars: 1000, title: false }).startsWith('[critical] p0 down'), true);
});

test('email: the title is the subject, the body lists every alert and names the host', () => {
  const many = Array.from({ length: 50 }, (_, i) => ({ ...redisDown, key: `probe:p${i}:down`, summary: `p${i} down` }));
  const { subject, text } = renderEmail(firing(...many));
  assert.equal(subject, '[web1] FIRING 50: p0 down, +49 more');
  assert.equal(text.match(/^\[critical\]/gm)!.length, 50);
  assert.match(text, /\n-- \ncaretaker on web1\n$/);
});
