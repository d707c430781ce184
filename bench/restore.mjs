// RESTORE: a whole folder of backups restored through pwsh and this module
// (`Get-ChildItem | Restore-AzKeyVaultSecret -VaultName v`), against the same two baselines as the
// backup: the SDK's restoreSecretBackup in one Node 22 process with the same concurrency (the lower
// bound), and one request at a time (the Az cmdlet's way). Each restores into an empty vault of
// its own on the same local vault process, from the same files.
import path from 'node:path';
import { repoRoot } from '../build/node-runtime.mjs';
import { cleanEnv, VAULT } from './local-vault.mjs';
import { pwshScenarioFiles } from './processes.mjs';

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

/** Backs up `names` once (the SDK, 16 in flight), then restores the files three ways. */
export async function measureRestore({ pwsh, node22, vault, names, concurrency, unpaced, run, tempDir, log }) {
  const files = tempDir('restore-files');
  const namesFile = path.join(tempDir('restore-names'), 'names.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(namesFile, JSON.stringify(names));
  const sdk = async (args) => {
    const result = await run(node22, [path.join(repoRoot, 'bench', 'sdk-client.mjs'), ...args], { env: cleanEnv(vault.env) });
    if (result.code !== 0) throw new Error(`sdk-client exited ${result.code}: ${result.stderr}`);
    return { ...JSON.parse(result.stdout.trim().split('\n').at(-1)), totalMs: result.ms };
  };
  log(`RESTORE: backing up ${names.length} secrets once, to restore them`);
  const made = await sdk(['--vault', VAULT, '--names', namesFile, '--out', files, '--concurrency', String(concurrency)]);
  if (made.failed !== 0) throw new Error(`could not make the backups to restore: ${made.failed} failed`);

  log(`RESTORE A: ${names.length} files through pwsh | Restore-AzKeyVaultSecret`);
  const { script, module } = await pwshScenarioFiles(tempDir, 'restore-a', [], () => [
    'param($Module, $VaultName, $Dir, $ThrottleLimit)',
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    'Import-Module $Module',
    '$files = Get-ChildItem -File -LiteralPath $Dir',
    '$sw = [System.Diagnostics.Stopwatch]::StartNew()',
    '$out = $files | Restore-AzKeyVaultSecret -VaultName $VaultName -ThrottleLimit $ThrottleLimit -ErrorAction SilentlyContinue -ErrorVariable failures',
    '$sw.Stop()',
    '$first = if ($failures.Count) { [string]$failures[0] } else { $null }',
    '$inOrder = (@($out | ForEach-Object Name) -join ",") -eq (@($files | ForEach-Object { $_.Name.Substring($_.Name.IndexOf("-") + 1) }) -join ",")',
    '[pscustomobject]@{ ms = $sw.Elapsed.TotalMilliseconds; ok = @($out).Count; failed = $failures.Count; firstError = $first; inOrder = $inOrder } | ConvertTo-Json -Compress',
  ].join('\n'));
  const a = await run(pwsh, ['-NoProfile', '-NonInteractive', '-File', script, module, 'restorea', files, String(concurrency)], { env: cleanEnv({ ...vault.env, ...unpaced }) });
  if (a.code !== 0) throw new Error(`pwsh exited ${a.code}: ${a.stderr}${a.stdout}`);
  const ra = JSON.parse(a.stdout.trim().split('\n').at(-1));

  log(`RESTORE B: ${names.length} files, SDK restoreSecretBackup, ${concurrency} in flight`);
  const rb = await sdk(['--vault', 'restoreb', '--restore-from', files, '--concurrency', String(concurrency)]);
  log(`RESTORE C: ${names.length} files, SDK restoreSecretBackup, one at a time`);
  const rc = await sdk(['--vault', 'restorec', '--restore-from', files, '--concurrency', '1']);
  return { a: ra, b: rb, c: rc, n: names.length, concurrency };
}

export function restoreRows({ a, b, c, n, concurrency }) {
  const ab = a.ms / b.totalMs;
  const ca = c.totalMs / a.ms;
  return [
    { what: `RESTORE A  Get-ChildItem | Restore-AzKeyVaultSecret, N=${n}`, measured: seconds(a.ms), target: '', pass: a.failed === 0 && a.ok === n && a.inOrder,
      note: `pipeline only; ${a.ok} restored, ${a.failed} failed${a.firstError ? ` (${a.firstError})` : ''}; results ${a.inOrder ? 'in input order' : 'NOT in input order'}` },
    { what: `RESTORE B  Node 22 + SDK, ${concurrency} in flight, N=${n}`, measured: seconds(b.totalMs), target: '', pass: b.failed === 0, note: `process start to exit; work alone ${seconds(b.ms)}` },
    { what: `RESTORE C  one at a time (Az's way), N=${n}`, measured: seconds(c.totalMs), target: '', pass: c.failed === 0, note: `work alone ${seconds(c.ms)}` },
    { what: 'RESTORE A/B', measured: ab.toFixed(2), target: '<= 1.1', pass: ab <= 1.1, note: `${seconds(a.ms)} vs ${seconds(b.totalMs)}` },
    { what: 'RESTORE C/A', measured: ca.toFixed(1), target: '>= 12', pass: ca >= 12, note: `${seconds(c.totalMs)} one at a time` },
  ];
}
