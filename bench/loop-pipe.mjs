// LOOP and PIPE: this module against an in-process peer (bench/peer: the Azure SDK for .NET inside
// pwsh, Az.KeyVault's way), side by side in ONE pwsh that imports both, against the local vault in
// its own process at 10 ms per request.
//   LOOP  30 single calls in a foreach, module vs peer: per-call ms, ratio module/peer (target <= 1.2)
//   PIPE  60 items piped into the module vs the same 60 piped into the peer, which does them one
//         at a time: ratio peer/module (target >= 5)
// Each is measured --repeats times (module and peer alternating) and the median is taken. Every
// file written is checked: the count, the backup prefix, a JWE body, and one size per secret.
//   node bench/loop-pipe.mjs [--skip-build] [--loop 30] [--pipe 60] [--repeats 3] [--latency-ms 10]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { isSecretBackup, median } from './backup-files.mjs';
import { cleanEnv, startVault, VAULT } from './local-vault.mjs';
import { buildPeer } from './peer/build.mjs';
import { inScratch, pwshScenarioFiles, runProcess } from './processes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
export const LOOP_TARGET = 1.2;
export const PIPE_TARGET = 5;

// One pwsh, both modules. Module and peer alternate within each repeat, so drift hits both alike;
// each run writes into a folder of its own, so nothing is overwritten and every file can be checked.
const SCRIPT = (defineAzTypes) => [
  'param($Module, $Peer, $VaultName, $NamesFile, $OutRoot, [int]$LoopN, [int]$PipeN, [int]$Repeats)',
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  defineAzTypes,
  'Import-Module $Module',
  'Import-Module $Peer',
  '$names = @(Get-Content -Raw -LiteralPath $NamesFile | ConvertFrom-Json)',
  '$loopNames = $names[0..($LoopN - 1)]',
  '$pipeItems = foreach ($n in $names[0..($PipeN - 1)]) { New-AzSecretItem -VaultName $VaultName -Name $n }',
  'function NewDir($label) { (New-Item -ItemType Directory -Path (Join-Path $OutRoot $label)).FullName }',
  // Warm-up: each signs in, opens its connection and JIT-compiles its path once, outside the timing.
  '$warm = NewDir "warm"',
  '$sw = [System.Diagnostics.Stopwatch]::StartNew()',
  '$null = Backup-AzKeyVaultSecret -VaultName $VaultName -Name $names[0] -OutputFile "$warm/module-$($names[0])"',
  '$firstModule = $sw.Elapsed.TotalMilliseconds; $sw.Restart()',
  '$null = Backup-PeerKeyVaultSecret -VaultName $VaultName -Name $names[0] -OutputFile "$warm/peer-$($names[0])"',
  '$firstPeer = $sw.Elapsed.TotalMilliseconds',
  '$runs = [System.Collections.Generic.List[object]]::new()',
  'function Record($kind, $who, $dir, $ms, $out) { $runs.Add([pscustomobject]@{ kind = $kind; who = $who; dir = $dir; ms = $ms; out = @($out).Count }) }',
  'for ($r = 0; $r -lt $Repeats; $r++) {',
  '  $order = if ($r % 2) { "peer", "module" } else { "module", "peer" }',
  '  foreach ($who in $order) {',
  '    $dir = NewDir "loop-$who-$r"',
  '    $sw.Restart()',
  '    if ($who -eq "module") { $out = foreach ($n in $loopNames) { Backup-AzKeyVaultSecret -VaultName $VaultName -Name $n -OutputFile "$dir/$n" } }',
  '    else { $out = foreach ($n in $loopNames) { Backup-PeerKeyVaultSecret -VaultName $VaultName -Name $n -OutputFile "$dir/$n" } }',
  '    $sw.Stop(); Record "loop" $who $dir $sw.Elapsed.TotalMilliseconds $out',
  '  }',
  '  foreach ($who in $order) {',
  '    $dir = NewDir "pipe-$who-$r"',
  '    if ($who -eq "module") {',
  '      $sw.Restart()',
  '      $out = $pipeItems | Backup-AzKeyVaultSecret -OutputFile "$dir/"',
  '      $sw.Stop()',
  '    } else {',
  // Az's cmdlet takes one -OutputFile per call; piped without one, it writes each default-named
  // file into the current folder, which is what the peer does here.
  '      Push-Location -LiteralPath $dir',
  '      $sw.Restart()',
  '      $out = $pipeItems | Backup-PeerKeyVaultSecret',
  '      $sw.Stop()',
  '      Pop-Location',
  '    }',
  '    Record "pipe" $who $dir $sw.Elapsed.TotalMilliseconds $out',
  '  }',
  '}',
  '$azure = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -like "Azure.*" } | ForEach-Object { "$($_.GetName().Name) $($_.GetName().Version)" })',
  '[pscustomobject]@{ firstModuleMs = $firstModule; firstPeerMs = $firstPeer; runs = $runs; azureAssemblies = $azure; pwsh = $PSVersionTable.PSVersion.ToString(); dotnet = [System.Environment]::Version.ToString() } | ConvertTo-Json -Compress -Depth 4',
].join('\n');

/** Every file is a secret backup (prefix, then a five-part JWE), `expected` of them, each secret's backups one size. */
function checkDir(dir, expected, sizes) {
  const problems = [];
  const files = readdirSync(dir);
  if (files.length !== expected) problems.push(`${path.basename(dir)}: ${files.length} files, expected ${expected}`);
  for (const file of files) {
    const bytes = readFileSync(path.join(dir, file));
    const text = bytes.toString('latin1');
    const name = /secret-\d+/.exec(file)?.[0];
    if (!isSecretBackup(bytes) || !name) {
      problems.push(`${path.basename(dir)}/${file}: not a secret backup`);
      continue;
    }
    const size = sizes.get(name);
    if (size === undefined) sizes.set(name, text.length);
    else if (size !== text.length) problems.push(`${path.basename(dir)}/${file}: ${text.length} bytes, another backup of ${name} has ${size}`);
  }
  return problems;
}

/**
 * Runs LOOP and PIPE. `pwsh` and `node22` come from ensureTools(); the module's executable must
 * already be built (bin/<rid>/) and out/ compiled (the local vault and az-types come from there).
 */
export async function measureLoopPipe({ pwsh, node22, loop = 30, pipe = 60, repeats = 3, latencyMs = 10, log = () => {} }) {
  return inScratch(async ({ children, tempDir }) => {
    const peer = await buildPeer({ log });
    if (!peer.cached) log(`peer built in ${(peer.ms / 1000).toFixed(1)} s`);
    log(`local vault: ${Math.max(loop, pipe)} secrets, ${latencyMs} ms per request`);
    const vault = await startVault(node22, { count: Math.max(loop, pipe), latencyMs, children });
    const { script, namesFile, outRoot, module } = await pwshScenarioFiles(tempDir, 'loop-pipe', vault.names, SCRIPT);

    log(`LOOP ${loop} calls and PIPE ${pipe} items, module and peer in one pwsh, ${repeats} times each`);
    const started = performance.now();
    const result = await runProcess(
      pwsh,
      ['-NoProfile', '-NonInteractive', '-File', script, module, peer.dll, VAULT, namesFile, outRoot, String(loop), String(pipe), String(repeats)],
      { env: cleanEnv(vault.env), children },
    );
    const wallMs = performance.now() - started;
    await vault.stop();
    if (result.code !== 0) throw new Error(`pwsh exited ${result.code}:\n${result.stderr}${result.stdout}`);
    const measured = JSON.parse(result.stdout.trim().split('\n').at(-1));

    const sizes = new Map();
    const problems = checkDir(path.join(outRoot, 'warm'), 2, sizes);
    for (const run of measured.runs) {
      const expected = run.kind === 'loop' ? loop : pipe;
      if (run.out !== expected) problems.push(`${run.kind} ${run.who}: ${run.out} results written to the pipeline, expected ${expected}`);
      problems.push(...checkDir(run.dir, expected, sizes));
    }
    const ms = (kind, who) => measured.runs.filter((r) => r.kind === kind && r.who === who).map((r) => r.ms);
    const loopModule = median(ms('loop', 'module')) / loop;
    const loopPeer = median(ms('loop', 'peer')) / loop;
    const pipeModule = median(ms('pipe', 'module'));
    const pipePeer = median(ms('pipe', 'peer'));
    return {
      loop: { n: loop, modulePerCallMs: loopModule, peerPerCallMs: loopPeer, ratio: loopModule / loopPeer, target: LOOP_TARGET, runs: { module: ms('loop', 'module'), peer: ms('loop', 'peer') } },
      pipe: { n: pipe, moduleMs: pipeModule, peerMs: pipePeer, ratio: pipePeer / pipeModule, target: PIPE_TARGET, runs: { module: ms('pipe', 'module'), peer: ms('pipe', 'peer') } },
      firstModuleMs: measured.firstModuleMs,
      firstPeerMs: measured.firstPeerMs,
      azureAssemblies: measured.azureAssemblies,
      pwshVersion: measured.pwsh,
      dotnetVersion: measured.dotnet,
      peer,
      latencyMs,
      repeats,
      wallMs,
      problems,
      ok: problems.length === 0,
    };
  });
}

/** The two rows bench/run.mjs prints, in its row shape. */
export function loopPipeRows(m) {
  const f = (x) => x.toFixed(1);
  const checked = m.ok ? 'files checked' : `FILES: ${m.problems.slice(0, 3).join('; ')}`;
  return [
    {
      what: `LOOP ${m.loop.n} single calls in a foreach: module/peer`,
      measured: m.loop.ratio.toFixed(2),
      target: `<= ${m.loop.target}`,
      pass: m.ok && m.loop.ratio <= m.loop.target,
      note: `${f(m.loop.modulePerCallMs)} ms vs ${f(m.loop.peerPerCallMs)} ms per call (medians of ${m.repeats}); first call ${f(m.firstModuleMs)} vs ${f(m.firstPeerMs)} ms; ${checked}`,
    },
    {
      what: `PIPE ${m.pipe.n} piped items: peer (one at a time)/module`,
      measured: m.pipe.ratio.toFixed(1),
      target: `>= ${m.pipe.target}`,
      pass: m.ok && m.pipe.ratio >= m.pipe.target,
      note: `${f(m.pipe.peerMs)} ms vs ${f(m.pipe.moduleMs)} ms (medians of ${m.repeats}); ${m.latencyMs} ms per request; peer: Azure SDK for .NET in the same pwsh ${m.pwshVersion}`,
    },
  ];
}

async function main() {
  const { values: opts } = parseArgs({
    options: {
      loop: { type: 'string', default: '30' },
      pipe: { type: 'string', default: '60' },
      repeats: { type: 'string', default: '3' },
      'latency-ms': { type: 'string', default: '10' },
      'skip-build': { type: 'boolean', default: false },
    },
  });
  const log = (message) => process.stderr.write(`[bench] ${message}\n`);
  const { ensureTools } = await import('../build/ensure-tools.mjs');
  const tools = ensureTools();
  if (!opts['skip-build']) {
    const { build } = await import('../build/build.mjs');
    log('compiling and building the executable');
    const tsc = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
      child.on('close', resolve);
    });
    if (tsc !== 0) throw new Error('tsc failed');
    await build([]);
  }
  const m = await measureLoopPipe({
    ...tools,
    loop: Number(opts.loop),
    pipe: Number(opts.pipe),
    repeats: Number(opts.repeats),
    latencyMs: Number(opts['latency-ms']),
    log,
  });
  const rows = loopPipeRows(m);
  const width = Math.max(...rows.map((r) => r.what.length));
  console.log(`\n${'measurement'.padEnd(width)}  ${'measured'.padStart(9)}  ${'target'.padEnd(9)}  result  note`);
  for (const r of rows) console.log(`${r.what.padEnd(width)}  ${r.measured.padStart(9)}  ${r.target.padEnd(9)}  ${(r.pass ? 'pass' : 'FAIL').padEnd(6)}  ${r.note}`);
  console.log(`\nruns (ms): LOOP module ${m.loop.runs.module.map((x) => x.toFixed(0)).join(', ')}; peer ${m.loop.runs.peer.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`           PIPE module ${m.pipe.runs.module.map((x) => x.toFixed(0)).join(', ')}; peer ${m.pipe.runs.peer.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`peer ${path.relative(repoRoot, m.peer.dll)} (${m.peer.cached ? 'cached build' : `built in ${(m.peer.ms / 1000).toFixed(1)} s`}); loaded: ${m.azureAssemblies.join(', ')}; .NET ${m.dotnetVersion}`);
  if (m.problems.length) console.log(`file problems:\n  ${m.problems.join('\n  ')}`);
  return rows.every((r) => r.pass);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let passed = false;
  try {
    passed = await main();
  } catch (error) {
    process.stderr.write(`[bench] failed: ${error.stack ?? error}\n`);
  }
  process.exit(passed ? 0 : 1);
}
