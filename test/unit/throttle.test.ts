import { strict as assert } from 'node:assert';
import { KEY_VAULT_SECRETS_PER_SECOND, KEY_VAULT_WINDOW_MS, RatePacer } from '../../src/core/rate-pacer.js';
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

/** Send times of `arrivals` requests through a pacer: each goes at its arrival plus the wait it is given. */
function sendTimes(pacer: RatePacer, arrivals: number[]): number[] {
  return arrivals.map((now) => now + pacer.reserve(now));
}

/** The most of `times` (non-decreasing) that any window [t, t + windowMs) holds. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let first = 0, last = 0; first < times.length; first++) {
    while (last < times.length && times[last]! < times[first]! + windowMs) last++;
    most = Math.max(most, last - first);
  }
  return most;
}

/** A seeded generator, so a failing simulation can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

/**
 * `workers` requests in flight at once, as the vault gate keeps them: each
 * worker asks the pacer, waits, sends, and asks again when its answer is back.
 */
function simulateWorkers(pacer: RatePacer, workers: number, latencyMs: () => number, untilMs: number): number[] {
  const sent: number[] = [];
  const free = Array.from({ length: workers }, () => 0);
  for (;;) {
    let w = 0;
    for (let i = 1; i < workers; i++) if (free[i]! < free[w]!) w = i;
    const now = free[w]!;
    if (now >= untilMs) break;
    const at = now + pacer.reserve(now);
    sent.push(at);
    free[w] = at + latencyMs();
  }
  return sent.sort((a, b) => a - b);
}

describe('the rate pacer', () => {
  const WINDOW = KEY_VAULT_WINDOW_MS;
  const BUDGET = 3_600; // 90% of Key Vault's 4,000 per 10 s

  it('gives the default rate a budget of 3,600 requests per 10 s window', () => {
    const p = new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND });
    assert.equal(p.windowMs, 10_000);
    assert.equal(p.budget, BUDGET);
  });

  for (const size of [60, 200, 3_000, BUDGET]) {
    it(`lets a ${size}-request burst through without waiting`, () => {
      const p = new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND });
      const waits = Array.from({ length: size }, () => p.reserve(5_000));
      assert.deepEqual(new Set(waits), new Set([0]));
    });
  }

  it('holds the request after a full window until the oldest leaves it', () => {
    const p = new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND });
    // The budget spread over the first second, then one more at 2 s.
    for (let i = 0; i < BUDGET; i++) assert.equal(p.reserve(1_000 + i / 3.6), 0);
    assert.equal(p.reserve(2_000), 1_000 + WINDOW - 2_000);
  });

  it('keeps every sliding 10 s window at or under the budget over a long run at a high offered rate', () => {
    // 2,000 requests a second offered for two minutes, at irregular moments.
    const next = random(11);
    const arrivals: number[] = [];
    for (let t = 0; t < 120_000; t += next() * 1) arrivals.push(t);
    const sent = sendTimes(new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND }), arrivals);
    assert.ok(busiestWindow(sent, WINDOW) <= BUDGET, `busiest window ${busiestWindow(sent, WINDOW)}`);
    // In the long run 360 a second (90% of the limit), not less and not more: the queue lasts
    // well past 10 minutes, and the first 10 minutes hold at most 60 windows' budget.
    const rate = (sent.filter((t) => t < 600_000).length / 600_000) * 1_000;
    assert.ok(rate <= KEY_VAULT_SECRETS_PER_SECOND && rate > KEY_VAULT_SECRETS_PER_SECOND * 0.999, `long-run rate ${rate}/s`);
    // The pacer never sends a request before it was asked, nor out of order.
    for (let i = 0; i < sent.length; i++) {
      assert.ok(sent[i]! >= arrivals[i]!);
      if (i > 0) assert.ok(sent[i]! >= sent[i - 1]!);
    }
  });

  it('keeps every sliding window under the budget for 16 requests in flight, and the service sees no more than 4,000 in any 10 s', () => {
    const next = random(7);
    // Answers in 1-40 ms: far faster than 360 a second when unpaced.
    const sent = simulateWorkers(new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND }), 16, () => 1 + next() * 39, 180_000);
    assert.ok(sent.length > BUDGET * 17, `${sent.length} sent`);
    assert.ok(busiestWindow(sent, WINDOW) <= BUDGET, `busiest window ${busiestWindow(sent, WINDOW)}`);
    // The service counts arrivals, each late by its own network delay (up to 300 ms here).
    const arrived = sent.map((t) => t + next() * 300).sort((a, b) => a - b);
    assert.ok(busiestWindow(arrived, WINDOW) <= 4_000, `the service's busiest window ${busiestWindow(arrived, WINDOW)}`);
    const rate = (sent.filter((t) => t < 180_000).length / 180_000) * 1_000;
    assert.ok(rate <= KEY_VAULT_SECRETS_PER_SECOND && rate > KEY_VAULT_SECRETS_PER_SECOND * 0.98, `long-run rate ${rate}/s`);
  });

  it('spreads a sustained run evenly instead of replaying its first burst every 10 s', () => {
    // Everything asked for at once: the budget goes at once, the rest one every 10 s / 3,600.
    const p = new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND });
    const sent = sendTimes(p, Array.from({ length: BUDGET * 5 }, () => 0));
    assert.deepEqual(new Set(sent.slice(0, BUDGET)), new Set([0]));
    const after = sent.slice(BUDGET);
    assert.equal(after[0], WINDOW);
    // No second of the sustained part holds more than a second's share of the budget.
    assert.ok(busiestWindow(after, 1_000) <= BUDGET / 10 + 1, `busiest second ${busiestWindow(after, 1_000)}`);
    // And with 16 in flight: after the first window, no second holds much more than 360.
    const next = random(3);
    const worked = simulateWorkers(new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND }), 16, () => 1 + next() * 9, 60_000);
    const sustained = worked.filter((t) => t >= 2 * WINDOW);
    assert.ok(busiestWindow(sustained, 1_000) <= BUDGET / 10 + 2, `busiest second ${busiestWindow(sustained, 1_000)}`);
  });

  it('does not slow requests that arrive under the rate', () => {
    const p = new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND });
    // 333 a second for a minute.
    for (let t = 0; t < 60_000; t += 3) assert.equal(p.reserve(t), 0, `at ${t} ms`);
  });

  it('lets a burst through at once again after a sustained run, once the window has room', () => {
    const p = new RatePacer({ perSecond: KEY_VAULT_SECRETS_PER_SECOND });
    const sent = sendTimes(p, Array.from({ length: BUDGET * 3 }, () => 0));
    const quiet = sent.at(-1)! + WINDOW;
    const waits = Array.from({ length: 3_000 }, () => p.reserve(quiet));
    assert.deepEqual(new Set(waits), new Set([0]));
    // After a sustained run at 10/s (100 per window, the last sent at 29.9 s), at 35 s the 49 sent
    // after 25 s are still in the window: 51 go at once, the rest wait.
    const half = new RatePacer({ perSecond: 10 });
    assert.equal(sendTimes(half, Array.from({ length: 300 }, () => 0)).at(-1), 29_900);
    const fromHalf = sendTimes(half, Array.from({ length: 60 }, () => 35_000));
    assert.equal(fromHalf.filter((t) => t === 35_000).length, 51);
  });

  it('serves requests in the order they ask', () => {
    const p = new RatePacer({ perSecond: 2 }); // 20 per 10 s
    const sent = sendTimes(p, [...Array.from({ length: 25 }, () => 0), 1, 2, 3, 10_000, 10_001]);
    for (let i = 1; i < sent.length; i++) assert.ok(sent[i]! >= sent[i - 1]!, `request ${i} at ${sent[i]} before ${sent[i - 1]}`);
    assert.equal(sent[20], 10_000);
    assert.equal(busiestWindow(sent, 10_000), 20);
  });

  it('never lets more through than the rate allows, even below one request per window', () => {
    // 0.05/s: one per 20 s, not one per 10 s.
    const slow = new RatePacer({ perSecond: 0.05 });
    assert.deepEqual(sendTimes(slow, [0, 0, 0]), [0, 20_000, 40_000]);
    // 0.25/s: 2.5 per 10 s rounds down to 2.
    const odd = new RatePacer({ perSecond: 0.25 });
    assert.equal(odd.budget, 2);
    assert.deepEqual(sendTimes(odd, [0, 0, 0, 0]), [0, 0, 10_000, 15_000]);
  });

  it('at 100000/s (pacing off) keeps only the last window\'s requests, not a million-entry buffer up front', () => {
    const p = new RatePacer({ perSecond: 100_000 });
    assert.equal(p.budget, 1_000_000);
    const buffer = (): number => (p as unknown as { times: Float64Array }).times.length;
    assert.ok(buffer() <= 64);
    for (let i = 0; i < 5_000; i++) assert.equal(p.reserve(i), 0);
    assert.ok(buffer() <= 8_192, `buffer of ${buffer()}`);
    // Requests older than the window are forgotten, so a long slow run does not grow it.
    for (let t = 20_000; t < 220_000; t += 40) p.reserve(t);
    assert.ok(buffer() <= 8_192, `buffer of ${buffer()}`);
  });

  it('refuses a rate or window that is not positive', () => {
    assert.throws(() => new RatePacer({ perSecond: 0 }), RangeError);
    assert.throws(() => new RatePacer({ perSecond: Number.NaN }), RangeError);
    assert.throws(() => new RatePacer({ perSecond: 1, windowMs: 0 }), RangeError);
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
