import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { sharedVault } from '../support/hooks.js';
import { moduleManifestPath, psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { backedUp, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';

// Progress records are read from a nested PowerShell instance's Progress stream, the way a host
// sees them; the run itself stays -NonInteractive.
// With delayMs the input arrives slowly (a pause after each item), as from a paging Get-AzKeyVaultSecret.
const captureProgress = (moduleManifest: string, vaultName: string, names: string[], dir: string, preference: string, delayMs = 0) => `
  $ps = [powershell]::Create()
  [void]$ps.AddScript({
    param($Manifest, $VaultName, $Names, $Dir, $Preference, $DelayMs)
    $ProgressPreference = $Preference
    Import-Module $Manifest
    $Names | ForEach-Object { [pscustomobject]@{ VaultName = $VaultName; Name = $_ }; if ($DelayMs -gt 0) { Start-Sleep -Milliseconds $DelayMs } } |
      Backup-AzKeyVaultSecret -OutputFile $Dir -ThrottleLimit 2
  }).AddArgument(${psQuote(moduleManifest)}).AddArgument('${vaultName}').AddArgument(@(${names.map((n) => `'${n}'`).join(',')})).AddArgument(${psQuote(dir)}).AddArgument('${preference}').AddArgument(${delayMs})
  $paths = $ps.Invoke()
  $records = @($ps.Streams.Progress | ForEach-Object { [ordered]@{ status = [string]$_.StatusDescription; percent = $_.PercentComplete; completed = ($_.RecordType -eq 'Completed') } })
  [ordered]@{ paths = @($paths).Count; errors = $ps.Streams.Error.Count; progress = $records } | ConvertTo-Json -Depth 4 -Compress
`;

describe('PowerShell module: progress', function () {
  const names = Array.from({ length: 24 }, (_, i) => `p${i}`);
  let dir: string;
  beforeEach(() => {
    dir = tempDir('azkvb-progress-');
  });
  afterEach(() => {
    sharedVault().faults.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports done/total once the input is complete, and completes the bar', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('pg');
    seed(vault, v, names);
    vault.faults.setLatency(60);
    const run = await runPwsh(captureProgress(moduleManifestPath(), v, names, dir, 'Continue'), { env: vault.env(), module: null });
    const result = JSON.parse(String(run.outputs[0])) as { paths: number; errors: number; progress: Array<{ status: string; percent: number; completed: boolean }> };
    assert.equal(result.paths, names.length);
    assert.equal(result.errors, 0);
    assert.equal(filesIn(dir).length, names.length);
    assert.equal(backedUp(vault, v).length, names.length);
    const totals = result.progress.filter((p) => new RegExp(`^\\d+ of ${names.length} secrets backed up$`).test(p.status));
    assert.ok(totals.length > 0, JSON.stringify(result.progress));
    assert.ok(totals.every((p) => p.percent >= 0 && p.percent <= 100));
    assert.ok(result.progress[result.progress.length - 1]!.completed, 'the last record completes the bar');
  });

  it('reports done so far and in progress while the input is still arriving', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('ps');
    const few = names.slice(0, 8);
    seed(vault, v, few);
    const run = await runPwsh(captureProgress(moduleManifestPath(), v, few, dir, 'Continue', 300), { env: vault.env(), module: null });
    const result = JSON.parse(String(run.outputs[0])) as { paths: number; errors: number; progress: Array<{ status: string; percent: number; completed: boolean }> };
    assert.equal(result.paths, few.length);
    assert.equal(result.errors, 0);
    const soFar = result.progress.map((p) => /^(\d+) secrets backed up, (\d+) in progress$/.exec(p.status)).filter((m) => m !== null);
    assert.ok(soFar.length >= 3, JSON.stringify(result.progress));
    assert.ok(
      soFar.some((m) => Number(m[1]) >= 1),
      `results were counted before the input ended: ${JSON.stringify(result.progress)}`,
    );
    const firstTotal = result.progress.findIndex((p) => / of \d+ secrets backed up$/.test(p.status));
    const lastSoFar = result.progress.findLastIndex((p) => / in progress$/.test(p.status));
    assert.ok(firstTotal === -1 || lastSoFar < firstTotal, 'the done-so-far form only before the input ended');
    assert.ok(result.progress[result.progress.length - 1]!.completed, 'the last record completes the bar');
  });

  it('is silent when $ProgressPreference says so (runbooks)', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('pq');
    seed(vault, v, names);
    vault.faults.setLatency(60);
    const run = await runPwsh(captureProgress(moduleManifestPath(), v, names, dir, 'SilentlyContinue'), { env: vault.env(), module: null });
    const result = JSON.parse(String(run.outputs[0])) as { paths: number; progress: unknown[] };
    assert.equal(result.paths, names.length);
    assert.deepEqual(result.progress, []);
  });
});
