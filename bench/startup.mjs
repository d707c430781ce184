// Start-up cost of the executable against a bare Node 22, measured interleaved in one run so that
// machine noise hits both alike. Prints medians and their ratio.
//   node bench/startup.mjs [--runs 15] [--exe bin/<rid>/az-keyvault-backup] [-- extra args for the exe]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode, exeName, hostRid, repoRoot } from '../build/node-runtime.mjs';

function parse(argv) {
  const options = { runs: 15, exe: path.join(repoRoot, 'bin', hostRid(), exeName(hostRid(), 'az-keyvault-backup')), exeArgs: ['--version'] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') options.runs = Number(argv[++i]);
    else if (argv[i] === '--exe') options.exe = path.resolve(argv[++i]);
    else if (argv[i] === '--') {
      options.exeArgs = argv.slice(i + 1);
      break;
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error('--runs needs a positive integer');
  return options;
}

function timeOnce(cmd, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error || result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${result.error?.message ?? `exit ${result.status}\n${result.stderr}`}`);
  }
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Interleaved timed runs of the executable and of `node22 -e 0`; medians and their ratio. */
export function measureStartup({ runs = 15, exe, exeArgs = ['--version'] }) {
  if (!existsSync(exe)) throw new Error(`${exe} does not exist; run npm run build first`);
  const node22 = ensureNode();
  const subjects = [
    { label: `${path.relative(repoRoot, exe)} ${exeArgs.join(' ')}`, cmd: exe, args: exeArgs, times: [] },
    { label: 'node22 -e 0', cmd: node22, args: ['-e', '0'], times: [] },
  ];
  // One untimed round fills the page cache so the first timed run is not an outlier.
  for (const s of subjects) timeOnce(s.cmd, s.args);
  for (let i = 0; i < runs; i++) for (const s of subjects) s.times.push(timeOnce(s.cmd, s.args));
  const [exeResult, bare] = subjects.map((s) => ({ ...s, median: median(s.times), min: Math.min(...s.times), max: Math.max(...s.times) }));
  return { exe: exeResult, bare, ratio: exeResult.median / bare.median };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = parse(process.argv.slice(2));
  const { exe, bare, ratio } = measureStartup(options);
  for (const s of [exe, bare]) {
    console.log(`${s.label.padEnd(48)} median ${s.median.toFixed(1)} ms  (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, n=${s.times.length})`);
  }
  console.log(`ratio ${ratio.toFixed(2)}x`);
}
