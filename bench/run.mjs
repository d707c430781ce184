// `npm run bench`: how fast a whole vault is backed up, against the local vault in its own process
// (20 ms per request), in one run; prints each measurement with its target. Not part of `npm test`.
//   A  Get-… | Backup-AzKeyVaultSecret through pwsh and this module (pipeline time only)
//   B  lower bound: one Node 22 process, the SDK's backupSecret with the same concurrency
//   C  the Az cmdlet's way: one request at a time in one process
//   D  the naive wrapper: one executable process per secret (a smaller N, scaled)
//   RESTORE A/B/C  the same three ways, restoring the N backups into empty vaults (bench/restore.mjs)
// plus --version start-up against `node -e 0`, peak memory of `serve` for 10,000 secrets, and a
// vault that throttles above a rate; and LOOP and PIPE (bench/loop-pipe.mjs): this module against an
// in-process peer on the Azure SDK for .NET (bench/peer, built with dotnet), in one pwsh, 10 ms per request;
// FIRST CALL (bench/first-call.mjs): the first call of a runspace, in a fresh pwsh, against one
// one-shot `backup` process; PER ITEM (bench/per-item.mjs): the module's pwsh CPU time per piped item.
//   node bench/run.mjs [--n 1000] [--n-naive 100] [--n-memory 10000] [--rate 200] [--n-rate 2000]
//                      [--first-call-repeats 5] [--n-per-item 2000] [--per-item-latency-ms 0] [--skip-build]
//   node bench/run.mjs --only loop-pipe|first-call|per-item|throttled|restore [--skip-build] (throttled takes --rate, --n-rate)
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setInterval, clearInterval } from 'node:timers';
import { build, exePath } from '../build/build.mjs';
import { ensureTools } from '../build/ensure-tools.mjs';
import { hostRid, repoRoot } from '../build/node-runtime.mjs';
import { cleanEnv, startVault, VAULT } from './local-vault.mjs';
import { firstCallRows, measureFirstCall } from './first-call.mjs';
import { loopPipeRows, measureLoopPipe } from './loop-pipe.mjs';
import { measurePerItem, perItemRows } from './per-item.mjs';
import { measureRestore, restoreRows } from './restore.mjs';
import { pwshScenarioFiles, runProcess } from './processes.mjs';
import { measureStartup } from './startup.mjs';

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    'n-naive': { type: 'string', default: '100' },
    'n-memory': { type: 'string', default: '10000' },
    rate: { type: 'string', default: '200' },
    'n-rate': { type: 'string', default: '2000' },
    'latency-ms': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '16' },
    'first-call-repeats': { type: 'string', default: '5' },
    'n-per-item': { type: 'string', default: '2000' },
    'per-item-latency-ms': { type: 'string', default: '0' },
    'skip-build': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const OWN_VAULT_SCENARIOS = ['loop-pipe', 'first-call', 'per-item'];
const ONLY_SCENARIOS = [...OWN_VAULT_SCENARIOS, 'throttled', 'restore'];
if (opts.only !== undefined && !ONLY_SCENARIOS.includes(opts.only)) throw new Error(`--only takes one of ${ONLY_SCENARIOS.join(', ')}; got '${opts.only}'`);
const N = Number(opts.n);
const N_NAIVE = Number(opts['n-naive']);
const N_MEMORY = Number(opts['n-memory']);
const RATE = Number(opts.rate);
const N_RATE = Number(opts['n-rate']);
const LATENCY = Number(opts['latency-ms']);
const CONCURRENCY = Number(opts.concurrency);
const FIRST_CALL_REPEATS = Number(opts['first-call-repeats']);
const N_PER_ITEM = Number(opts['n-per-item']);
const PER_ITEM_LATENCY = Number(opts['per-item-latency-ms']);
const BACKUP_PREFIX = ')AzureKeyVaultSecretBackupV1.microsoft.com';
// The local vault has no rate limit unless asked; the executable's pacer (90% of Key Vault's
// 4,000 per 10 s) would otherwise be what A measures, where B has none.
const UNPACED = { AZ_KEYVAULT_BACKUP_MAX_REQUESTS_PER_SECOND: '100000' };

const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
const scratch = [];
const children = new Set();

function tempDir(label) {
  const dir = mkdtempSync(path.join(tmpdir(), `azkvb-bench-${label}-`));
  scratch.push(dir);
  return dir;
}

/** The vault lives in another process, but nothing here may block: every program runs asynchronously. */
const run = (cmd, args, options = {}) => runProcess(cmd, args, { ...options, children });


/** Every expected file exists and holds a Key Vault secret backup. */
function checkFiles(dir, expected) {
  const files = readdirSync(dir);
  const bad = files.filter((f) => !readFileSync(path.join(dir, f)).subarray(0, BACKUP_PREFIX.length).toString('latin1').startsWith(BACKUP_PREFIX));
  return { files: files.length, ok: files.length === expected && bad.length === 0 };
}

// ---- A: through pwsh and the module --------------------------------------------------------

async function scenarioA(pwsh, vault) {
  const { script, namesFile, outRoot: dir, module } = await pwshScenarioFiles(tempDir, 'a', vault.names.slice(0, N), (DEFINE_AZ_TYPES) => [
    'param($Module, $VaultName, $NamesFile, $OutDir, $ThrottleLimit)',
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    DEFINE_AZ_TYPES,
    'Import-Module $Module',
    '$items = foreach ($n in (Get-Content -Raw -LiteralPath $NamesFile | ConvertFrom-Json)) { New-AzSecretItem -VaultName $VaultName -Name $n }',
    '$sw = [System.Diagnostics.Stopwatch]::StartNew()',
    '$out = $items | Backup-AzKeyVaultSecret -OutputFile $OutDir -ThrottleLimit $ThrottleLimit -ErrorAction SilentlyContinue -ErrorVariable failures',
    '$sw.Stop()',
    '$first = if ($failures.Count) { [string]$failures[0] } else { $null }',
    '[pscustomobject]@{ ms = $sw.Elapsed.TotalMilliseconds; ok = @($out).Count; failed = $failures.Count; firstError = $first } | ConvertTo-Json -Compress',
  ].join('\n'));
  const env = cleanEnv({ ...vault.env, ...UNPACED });
  const result = await run(pwsh, ['-NoProfile', '-NonInteractive', '-File', script, module, VAULT, namesFile, dir, String(CONCURRENCY)], { env });
  if (result.code !== 0) throw new Error(`pwsh exited ${result.code}: ${result.stderr}${result.stdout}`);
  const line = result.stdout.trim().split('\n').at(-1);
  const measured = JSON.parse(line);
  return { ...measured, totalMs: result.ms, check: checkFiles(dir, N) };
}

// ---- B and C: the SDK in one Node 22 process -------------------------------------------------

async function scenarioSdk(node22, vault, concurrency, count) {
  const dir = tempDir(`sdk-${concurrency}`);
  const namesFile = path.join(tempDir('names'), 'names.json');
  writeFileSync(namesFile, JSON.stringify(vault.names.slice(0, count)));
  const result = await run(node22, [path.join(repoRoot, 'bench', 'sdk-client.mjs'), '--vault', VAULT, '--names', namesFile, '--out', dir, '--concurrency', String(concurrency)], {
    env: cleanEnv(vault.env),
  });
  if (result.code !== 0) throw new Error(`sdk-client exited ${result.code}: ${result.stderr}`);
  const measured = JSON.parse(result.stdout.trim().split('\n').at(-1));
  return { ...measured, totalMs: result.ms, check: checkFiles(dir, count) };
}

// ---- D: one executable process per secret ----------------------------------------------------

async function scenarioNaive(exe, vault) {
  const dir = tempDir('d');
  const env = cleanEnv(vault.env);
  const started = performance.now();
  let failed = 0;
  for (const name of vault.names.slice(0, N_NAIVE)) {
    const result = await run(exe, ['backup', '--vault-name', VAULT, '--name', name, '--directory', dir], { env });
    if (result.code !== 0) failed++;
  }
  const ms = performance.now() - started;
  return { ms, failed, ok: N_NAIVE - failed, check: checkFiles(dir, N_NAIVE) };
}

// ---- serve directly: peak memory and the throttled vault ---------------------------------------

function serveInput(names, dir) {
  const lines = [JSON.stringify({ type: 'hello', protocol: 3, client: 'bench' })];
  names.forEach((name, i) => lines.push(JSON.stringify({ type: 'backup', id: i + 1, vaultName: VAULT, name, directory: dir, force: false })));
  lines.push(JSON.stringify({ type: 'end' }), '');
  return lines.join('\n');
}

function vmHwmKiB(pid) {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // already gone
  }
}

async function scenarioServe(exe, vault, count, extraEnv, args = []) {
  const dir = tempDir('serve');
  let peakKiB = 0;
  let poll;
  const sample = (pid) => {
    const kib = vmHwmKiB(pid);
    if (kib !== undefined) peakKiB = Math.max(peakKiB, kib);
  };
  const result = await run(exe, ['serve', '--concurrency', String(CONCURRENCY), ...args], {
    env: cleanEnv({ ...vault.env, ...extraEnv }),
    input: serveInput(vault.names.slice(0, count), dir),
    onSpawn: (child) => {
      poll = setInterval(() => sample(child.pid), 50);
      // The high-water mark once the last result is out (done answers end), just before the process exits.
      child.stdout.on('data', (d) => {
        if (d.includes('"type":"done"')) sample(child.pid);
      });
    },
  });
  clearInterval(poll);
  if (result.code !== 0) throw new Error(`serve exited ${result.code}: ${result.stderr.slice(0, 2000)}`);
  const done = JSON.parse(result.stdout.trim().split('\n').at(-1));
  if (done.type !== 'done') throw new Error(`serve's last line is not done: ${JSON.stringify(done)}`);
  const statuses = result.stderr;
  return { ms: result.ms, peakMiB: peakKiB / 1024, ok: done.succeeded, failed: done.failed, check: checkFiles(dir, count), stderr: statuses };
}

// ---- the throttled vault: 429 above RATE a second ----------------------------------------------

async function measureThrottled(node22, exe) {
  log(`throttled: ${N_RATE} secrets, the vault answers 429 above ${RATE}/s`);
  const vault = await startVault(node22, { count: N_RATE, rateLimit: RATE, latencyMs: LATENCY, children });
  try {
    return await scenarioServe(exe, vault, N_RATE, {}, ['--log-level', 'verbose']);
  } finally {
    await vault.stop();
  }
}

function throttledRows(throttled) {
  const retries = (throttled.stderr.match(/The vault answered 429/g) ?? []).length;
  const cuts = (throttled.stderr.match(/is throttling; requests per second/g) ?? []).length;
  const imposed = (N_RATE / RATE) * 1000;
  const ratio = throttled.ms / imposed;
  return [
    { what: `throttled vault (429 above ${RATE}/s), N=${N_RATE}: failures`, measured: String(throttled.failed), target: '0',
      pass: throttled.failed === 0 && throttled.check.ok, note: `${retries} throttled answers retried, the vault's rate cut ${cuts} time(s)` },
    { what: 'throttled: time / time the rate limit imposes', measured: ratio.toFixed(2), target: '<= 1.2', pass: ratio <= 1.2,
      note: `${seconds(throttled.ms)} vs ${seconds(imposed)} (${N_RATE} / ${RATE} per s)` },
  ];
}

// ---- the run ---------------------------------------------------------------------------------

async function main() {
  const tools = ensureTools();
  if (!opts['skip-build']) {
    log('compiling and building the executable');
    const tsc = await run(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    if (tsc.code !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    await build([]);
  }
  const exe = exePath(hostRid());
  const rows = [];
  const row = (what, measured, target, pass, note = '') => rows.push({ what, measured, target, pass, note });
  // The scenarios that start their own vault, alone or at the end of the whole run.
  const scenarios = {
    'loop-pipe': async () => {
      log('LOOP and PIPE: the module and the in-process peer in one pwsh');
      return loopPipeRows(await measureLoopPipe({ ...tools, log }));
    },
    'first-call': async () => firstCallRows(await measureFirstCall({ ...tools, exe, repeats: FIRST_CALL_REPEATS, latencyMs: LATENCY, log })),
    'per-item': async () => perItemRows(await measurePerItem({ ...tools, n: N_PER_ITEM, latencyMs: PER_ITEM_LATENCY, log })),
    throttled: async () => throttledRows(await measureThrottled(tools.node22, exe)),
    // Alone: with a vault of its own (in the whole run it shares A's).
    restore: async () => {
      const own = await startVault(tools.node22, { count: N, latencyMs: LATENCY, children });
      try {
        return restoreRows(await measureRestore({ pwsh: tools.pwsh, node22: tools.node22, vault: own, names: own.names.slice(0, N), concurrency: CONCURRENCY, unpaced: UNPACED, run, tempDir, log }));
      } finally {
        await own.stop();
      }
    },
  };
  if (opts.only !== undefined) {
    rows.push(...(await scenarios[opts.only]()));
    printRows(rows);
    return rows.every((r) => r.pass);
  }

  log(`start-up: ${exe} --version vs node22 -e 0`);
  const startup = measureStartup({ exe, runs: 15 });

  log(`local vault: ${N} secrets, ${LATENCY} ms per request`);
  let vault = await startVault(tools.node22, { count: Math.max(N, N_NAIVE), latencyMs: LATENCY, children });
  log(`A: ${N} secrets through pwsh | Backup-AzKeyVaultSecret`);
  const a = await scenarioA(tools.pwsh, vault);
  log(`B: ${N} secrets, SDK backupSecret, ${CONCURRENCY} in flight`);
  const b = await scenarioSdk(tools.node22, vault, CONCURRENCY, N);
  log(`A without pwsh: ${N} secrets straight into serve`);
  const served = await scenarioServe(exe, vault, N, UNPACED);
  log(`C: ${N} secrets, SDK backupSecret, one at a time`);
  const c = await scenarioSdk(tools.node22, vault, 1, N);
  log(`D: ${N_NAIVE} secrets, one executable process each`);
  const d = await scenarioNaive(exe, vault);
  const restored = await measureRestore({ pwsh: tools.pwsh, node22: tools.node22, vault, names: vault.names.slice(0, N), concurrency: CONCURRENCY, unpaced: UNPACED, run, tempDir, log });
  await vault.stop();

  log(`memory: serve with ${N_MEMORY} secrets`);
  vault = await startVault(tools.node22, { count: N_MEMORY, latencyMs: LATENCY, children });
  const mem = await scenarioServe(exe, vault, N_MEMORY, UNPACED);
  await vault.stop();

  const throttled = await scenarios.throttled();
  const ownVaultRows = [];
  for (const scenario of OWN_VAULT_SCENARIOS) ownVaultRows.push(...(await scenarios[scenario]()));

  const dScaled = (d.ms / N_NAIVE) * N;
  row(`A  pwsh | Backup-AzKeyVaultSecret, N=${N}`, seconds(a.ms), '', a.failed === 0 && a.check.ok,
    `pipeline only; pwsh start + import + ${N} items: ${seconds(a.totalMs - a.ms)}; ${a.ok} ok, ${a.failed} failed${a.firstError ? ` (${a.firstError})` : ''}`);
  row(`B  Node 22 + SDK, ${CONCURRENCY} in flight, N=${N}`, seconds(b.totalMs), '', b.failed === 0 && b.check.ok, `process start to exit; work alone ${seconds(b.ms)}`);
  row(`   serve alone (no pwsh), N=${N}`, seconds(served.ms), '', served.failed === 0 && served.check.ok,
    `process start to exit: splits A's time between the module (${seconds(a.ms - served.ms)}) and the executable`);
  row(`C  one at a time (Az's way), N=${N}`, seconds(c.totalMs), '', c.failed === 0 && c.check.ok, `work alone ${seconds(c.ms)}`);
  row(`D  one process per secret, N=${N_NAIVE} x ${N / N_NAIVE}`, seconds(dScaled), '', d.failed === 0 && d.check.ok, `${seconds(d.ms)} for ${N_NAIVE}, ${(d.ms / N_NAIVE).toFixed(0)} ms each`);
  row('A/B', (a.ms / b.totalMs).toFixed(2), '<= 1.1', a.ms / b.totalMs <= 1.1);
  row('C/A', (c.totalMs / a.ms).toFixed(1), '>= 12', c.totalMs / a.ms >= 12);
  row('D/A', (dScaled / a.ms).toFixed(1), '>= 20', dScaled / a.ms >= 20);
  row('start-up --version / node -e 0', startup.ratio.toFixed(2), '<= 2', startup.ratio <= 2,
    `${startup.exe.median.toFixed(1)} ms vs ${startup.bare.median.toFixed(1)} ms (medians of 15)`);
  row(`peak RSS (VmHWM), serve, N=${N_MEMORY}`, `${mem.peakMiB.toFixed(0)} MB`, '<= 150 MB', mem.peakMiB <= 150 && mem.failed === 0 && mem.check.ok,
    `${mem.ok} ok, ${mem.failed} failed in ${seconds(mem.ms)}`);
  rows.push(...restoreRows(restored));
  rows.push(...throttled);
  rows.push(...ownVaultRows);

  printRows(rows);
  console.log(`\nlocal vault: ${LATENCY} ms per request (FIRST CALL too; LOOP, PIPE and PER ITEM: see their notes), its own process; executable ${path.relative(repoRoot, exe)}; D runs the executable from Node, sequentially, as a naive wrapper would.`);
  return rows.every((r) => r.pass);
}

function printRows(rows) {
  const width = Math.max(...rows.map((r) => r.what.length));
  console.log(`\n${'measurement'.padEnd(width)}  ${'measured'.padStart(9)}  ${'target'.padEnd(9)}  result  note`);
  for (const r of rows) {
    const verdict = r.target ? (r.pass ? 'pass' : 'FAIL') : (r.pass ? 'ok' : 'FAIL');
    console.log(`${r.what.padEnd(width)}  ${r.measured.padStart(9)}  ${r.target.padEnd(9)}  ${verdict.padEnd(6)}  ${r.note}`);
  }
}

let passed = false;
try {
  passed = await main();
} catch (error) {
  log(`failed: ${error.stack ?? error}`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
}
process.exit(passed ? 0 : 1);
