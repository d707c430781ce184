import { strict as assert } from 'node:assert';
import { RatePacer } from '../../src/core/rate-pacer.js';
import { ThrottleController } from '../../src/core/throttle-controller.js';
import { retryAfterMs, VaultThrottle } from '../../src/core/throttle-policy.js';
import { silentLogger } from '../../src/core/logger.js';

function headers(values: Record<string, string>) {
  return { headers: { get: (name: string) => values[name.toLowerCase()] } } as unknown as Parameters<typeof retryAfterMs>[0];
}

describe('the throttle controller (AIMD per vault)', () => {
  it('starts at the maximum and halves on a 429, down to one', () => {
    const c = new ThrottleController({ max: 16, holdMs: 0 });
    assert.equal(c.limit, 16);
    assert.deepEqual(c.onThrottled(0), { from: 16, to: 8, reason: 'throttled' });
    const limits = [1, 2, 3, 4, 5].map((t) => (c.onThrottled(t), c.limit));
    assert.deepEqual(limits, [4, 2, 1, 1, 1]);
  });

  it('treats 429s within the hold after a decrease as the same overload', () => {
    const c = new ThrottleController({ max: 16, holdMs: 1_000 });
    c.onThrottled(0);
    for (let t = 1; t < 1_000; t += 100) assert.equal(c.onThrottled(t), undefined);
    assert.equal(c.limit, 8);
    // The later 429s extended the hold: 901 + 1000.
    assert.equal(c.onThrottled(1_500), undefined);
    assert.equal(c.onThrottled(2_600)?.to, 4);
  });

  it('honours a Retry-After longer than the hold before growing again', () => {
    const c = new ThrottleController({ max: 4, holdMs: 100, successesPerIncrease: 1 });
    c.onThrottled(0, 5_000);
    assert.equal(c.limit, 2);
    for (let i = 0; i < 10; i++) c.onSuccess(4_999);
    assert.equal(c.limit, 2);
    c.onSuccess(5_000);
    c.onSuccess(5_000);
    assert.equal(c.limit, 3);
  });

  it('grows back by one per round of successes, up to the maximum and no further', () => {
    const c = new ThrottleController({ max: 16, holdMs: 0, successesPerIncrease: 4 });
    c.onThrottled(0);
    c.onThrottled(1);
    c.onThrottled(2);
    assert.equal(c.limit, 2);
    const changes: unknown[] = [];
    for (let i = 0; i < 4; i++) changes.push(c.onSuccess(10));
    assert.deepEqual(changes.slice(0, 3), [undefined, undefined, undefined]);
    assert.deepEqual(changes[3], { from: 2, to: 3, reason: 'recovered' });
    // At 8 it takes 8 successes (one round) per step.
    let successes = 0;
    while (c.limit < 16) {
      const before: number = c.limit;
      let n = 0;
      while (c.limit === before) {
        c.onSuccess(10);
        n++;
      }
      assert.equal(n, Math.max(4, before));
      successes += n;
    }
    assert.ok(successes > 0);
    for (let i = 0; i < 100; i++) assert.equal(c.onSuccess(10), undefined);
    assert.equal(c.limit, 16);
  });

  it('forgets partial progress when throttled again', () => {
    const c = new ThrottleController({ max: 8, holdMs: 0, successesPerIncrease: 3 });
    c.onThrottled(0);
    c.onSuccess(1);
    c.onSuccess(1);
    c.onThrottled(2);
    assert.equal(c.limit, 2);
    c.onSuccess(3);
    c.onSuccess(3);
    assert.equal(c.limit, 2);
    c.onSuccess(3);
    assert.equal(c.limit, 3);
  });
});

describe('the rate pacer', () => {
  it('lets a burst go at once, then spaces requests 1/rate apart', () => {
    const p = new RatePacer({ perSecond: 100, burst: 3 });
    const waits = Array.from({ length: 6 }, () => p.reserve(1_000));
    assert.deepEqual(waits.map((w) => Math.round(w)), [0, 0, 0, 10, 20, 30]);
  });

  it('keeps any window at or under the rate, however requests arrive', () => {
    const rate = 50;
    const p = new RatePacer({ perSecond: rate });
    const sent: number[] = [];
    let now = 0;
    for (let i = 0; i < 500; i++) {
      now += (i * 7919) % 13; // an irregular, mostly faster-than-allowed arrival pattern
      sent.push(now + p.reserve(now));
    }
    sent.sort((a, b) => a - b);
    for (let i = 0; i < sent.length; i++) {
      const inWindow = sent.filter((t) => t >= sent[i]! && t < sent[i]! + 1_000).length;
      assert.ok(inWindow <= rate + Math.floor(rate / 10), `window at ${sent[i]} holds ${inWindow}`);
    }
  });

  it('does not bank idle time beyond the burst', () => {
    const p = new RatePacer({ perSecond: 10, burst: 2 });
    assert.equal(p.reserve(0), 0);
    const waits = [p.reserve(60_000), p.reserve(60_000), p.reserve(60_000)];
    assert.deepEqual(waits.map((w) => Math.round(w)), [0, 0, 100]);
  });

  it('refuses a rate that is not positive', () => {
    assert.throws(() => new RatePacer({ perSecond: 0 }), RangeError);
    assert.throws(() => new RatePacer({ perSecond: Number.NaN }), RangeError);
  });
});

describe('throttling answers', () => {
  it('reads Retry-After in seconds or as a date, and retry-after-ms', () => {
    assert.equal(retryAfterMs(headers({ 'retry-after': '3' })), 3_000);
    assert.equal(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '3' })), 250);
    assert.equal(retryAfterMs(headers({ 'x-ms-retry-after-ms': '40' })), 40);
    const date = retryAfterMs(headers({ 'retry-after': new Date(Date.now() + 10_000).toUTCString() }));
    assert.ok(date !== undefined && date > 8_000 && date <= 10_000, String(date));
    assert.equal(retryAfterMs(headers({})), undefined);
  });

  it('narrows the vault gate on 429 and logs the change', async () => {
    const lines: string[] = [];
    let now = 0;
    const t = new VaultThrottle({
      vaultName: 'v',
      maxConcurrency: 8,
      maxRequestsPerSecond: 1_000,
      logger: { ...silentLogger, verbose: (m) => lines.push(m) },
      now: () => now,
    });
    t.observe({ status: 429, headers: headers({ 'retry-after': '1' }).headers } as never);
    assert.equal(t.limit, 4);
    assert.match(lines[0]!, /Vault 'v' is throttling; backups in flight at once: 8 -> 4/);
    now = 2_000;
    for (let i = 0; i < 64; i++) t.observe({ status: 200, headers: headers({}).headers } as never);
    assert.equal(t.limit, 8);
    assert.match(lines.at(-1)!, /stopped throttling.*back to 8/);

    let running = 0;
    let peak = 0;
    now = 10_000;
    t.observe({ status: 429, headers: headers({}).headers } as never);
    await Promise.all(
      Array.from({ length: 12 }, () =>
        t.run(async () => {
          peak = Math.max(peak, ++running);
          await new Promise((r) => setTimeout(r, 2));
          running--;
        }),
      ),
    );
    assert.equal(peak, 4);
  });

});
