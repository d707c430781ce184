import { strict as assert } from 'node:assert';
import { Limiter } from '../../../src/core/throttle-limiter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the concurrency limiter', () => {
  it('never runs more than its limit, and a lower limit takes effect', async () => {
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
    limiter.setLimit(1);
    peak = 0;
    await Promise.all(Array.from({ length: 4 }, () => limiter.run(task)));
    assert.equal(peak, 1);
  });
});
