import { strict as assert } from 'node:assert';
import { Limiter } from '../../../src/core/throttle-limiter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the concurrency limiter', () => {
  it('never runs more than its limit, and runs the waiting tasks in order', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(5);
      running--;
    };
    await Promise.all(Array.from({ length: 12 }, () => limiter.run(task)));
    assert.equal(peak, 3);
    const started: number[] = [];
    const one = new Limiter(1);
    await Promise.all(Array.from({ length: 4 }, (_, i) => one.run(async () => (started.push(i), task()))));
    assert.deepEqual(started, [0, 1, 2, 3]);
  });

  it('counts a limit below one as one', async () => {
    const limiter = new Limiter(0);
    let ran = false;
    await limiter.run(async () => (ran = true));
    assert.ok(ran);
  });
});
