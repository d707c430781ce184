// The long fuzz run, outside mocha:
//   node out/test/unit/fuzz-long.js [--iterations 1e6] [--seed 42]
// (AZKVB_FUZZ_ITERATIONS / AZKVB_FUZZ_SEED work too). Exits 1 on the first
// violated property, printing the seed and iteration that reproduce it.
import { FuzzFailure, runFuzz } from './fuzz-cases.js';

function option(name: string, envName: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : process.env[envName];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number, got ${raw}`);
  return Math.floor(value);
}

const iterations = option('iterations', 'AZKVB_FUZZ_ITERATIONS', 1_000_000);
const seed = option('seed', 'AZKVB_FUZZ_SEED', Date.now() % 2 ** 31);
const chunk = 50_000;
const started = Date.now();
let done = 0;
try {
  // Chunks with derived seeds, so progress shows and any failure names a short reproducible run.
  for (let part = 0; done < iterations; part++) {
    const n = Math.min(chunk, iterations - done);
    runFuzz(seed + part, n);
    done += n;
    process.stderr.write(`fuzz: ${done}/${iterations} iterations (seed ${seed}), ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  process.stdout.write(`fuzz: ${done} iterations, no violation (seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
} catch (error) {
  process.stderr.write(`fuzz: FAILED ${error instanceof FuzzFailure ? error.message : String(error instanceof Error ? error.stack : error)}\n`);
  process.exitCode = 1;
}
