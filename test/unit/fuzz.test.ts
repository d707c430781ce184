import { strict as assert } from 'node:assert';
import { runFuzz } from './fuzz-cases.js';

// A few thousand deterministic inputs on every run; the long run is
// `node out/test/unit/fuzz-long.js --iterations 1e6` (docs/reliability.md).
describe('fuzzing the parsers and validators (seeded, deterministic)', function () {
  this.timeout(20_000);

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 1500 inputs per target, only BackupErrors, no slow call, every invalid input refused, no path outside its directory`, () => {
      const stats = runFuzz(seed, 1500);
      assert.equal(stats.iterations, 1500);
      // The generators must really reach both sides of every check, or the run proves little.
      for (const target of ['vault name', 'secret name', 'secret id', 'request', 'protocol line', 'base64url']) {
        assert.ok((stats.accepted[target] ?? 0) > 10, `${target}: only ${stats.accepted[target] ?? 0} accepted`);
        assert.ok((stats.refused[target] ?? 0) > 10, `${target}: only ${stats.refused[target] ?? 0} refused`);
      }
    });
  }
});
