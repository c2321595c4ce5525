import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lifetimeRenewalTime, planRenewal, pointInWindow, urgentRenewalTime } from '../../../src/modules/certificates/renewal-window.js';

const DAY = 86_400_000;
const t0 = Date.parse('2026-01-01T00:00:00Z');
const validity = (days: number) => ({ notBefore: new Date(t0), notAfter: new Date(t0 + days * DAY) });
const daysBeforeExpiry = (days: number, at: Date) => (t0 + days * DAY - at.getTime()) / DAY;

describe('renewal window (no fixed day counts)', () => {
  test('90-day certificate renews when a third remains (~30 days)', () => {
    assert.equal(daysBeforeExpiry(90, lifetimeRenewalTime(validity(90))), 30);
  });

  test('45-day (tlsserver) renews at 15 days left, 64-day classic at ~21.3', () => {
    assert.equal(daysBeforeExpiry(45, lifetimeRenewalTime(validity(45))), 15);
    assert.ok(Math.abs(daysBeforeExpiry(64, lifetimeRenewalTime(validity(64))) - 64 / 3) < 1e-9);
  });

  test('lifetimes of 10 days or less renew at half: 6-day shortlived at 3 days, 10-day at 5', () => {
    assert.equal(daysBeforeExpiry(6, lifetimeRenewalTime(validity(6))), 3);
    assert.equal(daysBeforeExpiry(10, lifetimeRenewalTime(validity(10))), 5);
    assert.ok(Math.abs(daysBeforeExpiry(11, lifetimeRenewalTime(validity(11))) - 11 / 3) < 1e-9);
  });

  test('urgent threshold is 1/20 of the lifetime', () => {
    assert.equal(daysBeforeExpiry(90, urgentRenewalTime(validity(90))), 4.5);
    assert.equal(daysBeforeExpiry(6, urgentRenewalTime(validity(6))), 0.3);
  });

  test('without ARI: lifetime plan, due only once its time has come', () => {
    const plan = planRenewal(validity(90), { now: new Date(t0 + 10 * DAY) });
    assert.equal(plan.reason, 'lifetime');
    assert.ok(plan.at.getTime() > t0 + 59 * DAY, 'not due on day 59');
    assert.ok(plan.at.getTime() <= t0 + 60 * DAY, 'due on day 60');
  });

  test('with ARI: a random point inside the window, taken from the injected random', () => {
    const window = { start: new Date(t0 + 50 * DAY), end: new Date(t0 + 52 * DAY) };
    const now = new Date(t0 + 10 * DAY);
    assert.deepEqual(planRenewal(validity(90), { now, window, random: () => 0 }), { at: window.start, reason: 'ari' });
    assert.deepEqual(planRenewal(validity(90), { now, window, random: () => 0.5 }), { at: new Date(t0 + 51 * DAY), reason: 'ari' });
    const late = planRenewal(validity(90), { now, window, random: () => 0.999999 });
    assert.ok(late.at.getTime() < window.end.getTime());
  });

  test('ARI window earlier than the lifetime rule (e.g. revocation) is honoured', () => {
    const now = new Date(t0 + 10 * DAY);
    const window = { start: new Date(t0 + 9 * DAY), end: new Date(t0 + 9.5 * DAY) };
    const plan = planRenewal(validity(90), { now, window, random: () => 0.3 });
    assert.equal(plan.reason, 'ari');
    assert.ok(plan.at.getTime() <= now.getTime(), 'a window already over means now');
  });

  test('ARI window inside the window start: the random point is drawn from now to the end', () => {
    const now = new Date(t0 + 51 * DAY);
    const point = pointInWindow({ start: new Date(t0 + 50 * DAY), end: new Date(t0 + 52 * DAY) }, now, () => 0);
    assert.equal(point.getTime(), now.getTime());
  });

  test('less than 1/20 left: renew at once whatever ARI says', () => {
    const now = new Date(t0 + 86 * DAY);
    const window = { start: new Date(t0 + 88 * DAY), end: new Date(t0 + 89 * DAY) };
    const plan = planRenewal(validity(90), { now, window, random: () => 0.5 });
    assert.deepEqual(plan, { at: now, reason: 'urgent' });
  });

  test('ARI point after the urgent threshold is pulled forward to it', () => {
    const now = new Date(t0 + 10 * DAY);
    const window = { start: new Date(t0 + 88 * DAY), end: new Date(t0 + 89 * DAY) };
    const plan = planRenewal(validity(90), { now, window, random: () => 0.5 });
    assert.deepEqual(plan, { at: urgentRenewalTime(validity(90)), reason: 'urgent' });
  });

  test('an expired certificate is urgent', () => {
    const now = new Date(t0 + 91 * DAY);
    assert.equal(planRenewal(validity(90), { now }).reason, 'urgent');
  });
});
