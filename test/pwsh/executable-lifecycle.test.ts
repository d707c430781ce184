import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { exeName, repoRoot, runtimeId } from '../support/paths.js';
import { copyModule, moduleManifestPath, psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, backedUp, backupRequests, defaultNamePattern, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';


// A stand-in at the exact place the module looks for its executable: it records each start and
// its arguments, then behaves as AZKVB_TRAP_MODE says (by default it fails before the handshake).
const TRAP = `#!/bin/sh
echo "$*" >> "$AZKVB_TRAP_LOG"
hello='{"type":"hello","protocol":3,"version":"9.9.9"}'
case "$AZKVB_TRAP_MODE" in
  crash) read -r line; echo "$hello"; read -r line; echo 'TRAP-STDERR-MARKER runtime failure' >&2; exit 70 ;;
  mismatch) read -r line; echo '{"type":"error","errorId":"ProtocolVersionMismatch","kind":"Protocol","message":"protocol 3 only","protocol":3}'; exit 11 ;;
  protocolError) read -r line; echo "$hello"; read -r line; echo '{"type":"protocolError","errorId":"ProtocolError","message":"line 2 is not valid JSON","line":2}'; while read -r line; do :; done; exit 0 ;;
  *) exit 3 ;;
esac
`;

const CLEAN_GUARD = "if ($PSVersionTable.PSVersion -ge [version]'7.3') {";

/**
 * The module as Windows PowerShell 5.1 and PowerShell 7.2 load it: the shipped psm1 with its
 * public function's form without a clean block, so the fallback (ending stale children later) is
 * tested on this pwsh too. Its bin/ is the repository's, so it runs the real executable.
 */
function moduleWithoutCleanBlock(): { dir: string; manifest: string } {
  const { dir } = copyModule();
  const psm1Path = join(dir, 'Az.KeyVault.Backup.psm1');
  const psm1 = readFileSync(psm1Path, 'utf8');
  assert.equal(psm1.split(CLEAN_GUARD).length, 2, 'the shipped psm1 chooses the clean block behind exactly one version check');
  writeFileSync(psm1Path, psm1.replace(CLEAN_GUARD, 'if ($false) {'));
  symlinkSync(join(repoRoot(), 'bin'), join(dir, 'bin'));
  return { dir, manifest: join(dir, 'Az.KeyVault.Backup.psd1') };
}


/**
 * PowerShell that runs `pipeline` in a nested PowerShell (the module imported, $v and $out set),
 * waits with `wait`, stops it as Ctrl+C would, and outputs the executable children counted before
 * and after, how long Stop() took, the final state and the nested errors.
 */
function stopNestedPipeline(pipeline: string, wait: string, v: string, out: string): string {
  return `
    function Get-ChildCount { @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID }).Count }
    $ps = [powershell]::Create()
    [void]$ps.AddScript(${psQuote(`param($m, $v, $out) Import-Module $m; ${pipeline}`)})
    [void]$ps.AddArgument(${psQuote(moduleManifestPath())}).AddArgument('${v}').AddArgument(${psQuote(out)})
    $async = $ps.BeginInvoke()
    ${wait}
    $before = Get-ChildCount
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $ps.Stop()
    [pscustomobject]@{ before = $before; stopMs = $watch.ElapsedMilliseconds; after = Get-ChildCount; state = $ps.InvocationStateInfo.State.ToString(); errors = @($ps.Streams.Error | ForEach-Object { [string]$_ }) }
  `;
}

describe('PowerShell module: when the executable starts and ends', function () {
  const cleanup: string[] = [];
  const trapModule = () => {
    const module = copyModule({ rid: runtimeId(), name: exeName(), content: TRAP, mode: 0o755 });
    const logDir = tempDir('azkvb-trap-');
    cleanup.push(module.dir, logDir);
    return { module, trapLog: join(logDir, 'started.log') };
  };
  after(function () {
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('-WhatIf starts no executable and sends no request, in every parameter set and down a pipeline', async function () {
    if (process.platform === 'win32') this.skip(); // the trap is a shell script
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['w1', 'w2']);
    const { module, trapLog } = trapModule();
    const out = tempDir('azkvb-whatif-');
    cleanup.push(out);
    const run = await runPwsh(
      `
      Set-Location ${psQuote(out)}
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'w1' -WhatIf
      Backup-AzKeyVaultSecret -Id 'https://${v}.vault.azure.net/secrets/w2' -WhatIf
      @([pscustomobject]@{ VaultName = '${v}'; Name = 'w1' }, [pscustomobject]@{ VaultName = '${v}'; Name = 'w2' }) | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -WhatIf
      [pscustomobject]@{ trapped = (Test-Path -LiteralPath ${psQuote(trapLog)}) }
      # The trap is live: without -WhatIf it is started, and fails the handshake.
      try { Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'w1'; 'not reached' }
      catch { [pscustomobject]@{ caught = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString() } }
      `,
      { env: { ...vault.env(), AZKVB_TRAP_LOG: trapLog }, module: module.manifest },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputs[0], { trapped: false }, 'no executable started under -WhatIf');
    assert.deepEqual(run.outputs[1], { caught: 'ExecutableFailed,Backup-AzKeyVaultSecret', category: 'ResourceUnavailable' });
    assert.equal(readFileSync(trapLog, 'utf8'), 'serve --log-level debug --idle-timeout-seconds 300\n', 'exactly one start, the one without -WhatIf');
    assert.equal(backupRequests(vault, v), 0, 'no request reached the vault');
    assert.deepEqual(filesIn(out), []);
    // ShouldProcess names the secret, for -Id the name parsed from the URI.
    const whatIf = run.hostOutput.split(/\r?\n/).filter((l) => l.startsWith('What if:'));
    assert.equal(whatIf.length, 4);
    assert.deepEqual(
      whatIf.map((l) => /"([^"]*)"\.$/.exec(l)?.[1]),
      ['w1', 'w2', 'w1', 'w2'],
    );
  });

  it('an executable that crashes, speaks another protocol or rejects a line ends the pipeline with one terminating error', async function () {
    if (process.platform === 'win32') this.skip();
    const { module, trapLog } = trapModule();
    const run = await runPwsh(
      `
      foreach ($mode in 'crash', 'mismatch', 'protocolError') {
          $env:AZKVB_TRAP_MODE = $mode
          try {
              @([pscustomobject]@{ VaultName = 'trapvault'; Name = 'a' }, [pscustomobject]@{ VaultName = 'trapvault'; Name = 'b' }) |
                  Backup-AzKeyVaultSecret -OutputFile ([System.IO.Path]::GetTempPath()) -ThrottleLimit 3 -Verbose 4>$null
              'not reached'
          }
          catch { [pscustomobject]@{ caught = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); quotesStderr = $_.Exception.Message.Contains('TRAP-STDERR-MARKER') } }
      }
      @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID }).Count
      `,
      { env: { AZKVB_TRAP_LOG: trapLog }, module: module.manifest },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputs, [
      { caught: 'ExecutableExited,Backup-AzKeyVaultSecret', category: 'InvalidResult', quotesStderr: true },
      { caught: 'ProtocolVersionMismatch,Backup-AzKeyVaultSecret', category: 'InvalidData', quotesStderr: false },
      { caught: 'ProtocolError,Backup-AzKeyVaultSecret', category: 'InvalidData', quotesStderr: false },
      0,
    ]);
    // A session that failed is never used again: each call starts a new one. -ThrottleLimit and
    // -Verbose travel in the pipeline's begin, not in argv.
    assert.equal(readFileSync(trapLog, 'utf8'), 'serve --log-level debug --idle-timeout-seconds 300\n'.repeat(3), 'argv from the one mapping table');
  });

  it('cancels the pipeline that failed upstream at once on PowerShell 7.3+ (clean block), and the session serves the next call', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['k1']);
    const out = tempDir('azkvb-clean-');
    cleanup.push(out);
    const run = await runPwsh(
      `
      function Get-ChildCount { @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID }).Count }
      try { & { [pscustomobject]@{ VaultName = '${v}'; Name = 'k1' }; Start-Sleep -Milliseconds 300; throw 'upstream failed' } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Force }
      catch { 'upstream failed' }
      Get-ChildCount
      Backup-AzKeyVaultSecret '${v}' 'k1' -OutputFile ${psQuote(join(out, 'next.blob'))}
      Get-ChildCount
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputs, ['upstream failed', 1, join(out, 'next.blob'), 1], 'one session executable, still serving after the failed pipeline');
    assertBackupFile(vault, v, 'k1', join(out, 'next.blob'));
  });

  it('without a clean block (5.1, 7.2): cancels a pipeline that never reached its end block at the next invocation, and ends the session on Remove-Module', async function () {
    const fallback = moduleWithoutCleanBlock();
    cleanup.push(fallback.dir);
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['k1', 'k2']);
    const out = tempDir('azkvb-stale-');
    cleanup.push(out);
    const run = await runPwsh(
      `
      function Get-ChildCount { @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID }).Count }
      # An upstream command fails while the function waits for input: neither its end block nor any
      # finally of it runs, so its pipeline stays open in the session until the next call.
      function Invoke-Broken {
          try { & { [pscustomobject]@{ VaultName = '${v}'; Name = 'k1' }; Start-Sleep -Milliseconds 300; throw 'upstream failed' } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Force }
          catch { 'upstream failed' }
      }
      Invoke-Broken
      Get-ChildCount
      Backup-AzKeyVaultSecret '${v}' 'k2' -OutputFile ${psQuote(out)}
      Get-ChildCount
      Invoke-Broken
      Get-ChildCount
      Remove-Module Az.KeyVault.Backup
      Get-ChildCount
      `,
      { env: vault.env(), module: fallback.manifest },
    );
    assert.deepEqual(run.errors, []);
    assert.equal(run.outputs.length, 7, JSON.stringify(run.outputs));
    assert.deepEqual([run.outputs[0], run.outputs[1]], ['upstream failed', 1]);
    assert.match(String(run.outputs[2]), defaultNamePattern(out, v, 'k2'));
    assert.deepEqual(run.outputs.slice(3), [1, 'upstream failed', 1, 0], 'one session throughout; none after Remove-Module');
  });

  it("stopping the pipeline while it waits for results (what Ctrl+C does) cancels its work at once; the runspace's session stays", async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    const names = Array.from({ length: 30 }, (_, i) => `c${i}`);
    seed(vault, v, names);
    const out = tempDir('azkvb-ctrlc-');
    cleanup.push(out);
    vault.faults.setLatency(400);
    let run;
    try {
      run = await runPwsh(
        stopNestedPipeline(
          '0..29 | ForEach-Object { [pscustomobject]@{ VaultName = $v; Name = "c$_" } } | Backup-AzKeyVaultSecret -OutputFile $out -ThrottleLimit 2',
          'Start-Sleep -Milliseconds 1500',
          v,
          out,
        ),
        { env: vault.env() },
      );
    } finally {
      vault.faults.setLatency(0);
    }
    assert.deepEqual(run.errors, []);
    const summary = run.outputs[0] as { before: number; stopMs: number; after: number; state: string; errors: string[] };
    assert.deepEqual(summary.errors, []);
    assert.equal(summary.before, 1, 'the executable was running');
    assert.equal(summary.state, 'Stopped');
    assert.equal(summary.after, 1, 'the session executable stays for the next call of that runspace');
    assert.ok(summary.stopMs < 1500, `cancelled at once, not after the grace period (${summary.stopMs} ms)`);
    const atStop = backupRequests(vault, v);
    await new Promise((r) => setTimeout(r, 1200));
    assert.ok(backupRequests(vault, v) <= atStop + 2, 'at most the 2 requests in flight were answered after the stop; none started');
    const files = filesIn(out);
    assert.ok(files.length < names.length);
    for (const file of files) {
      const match = new RegExp(`^${v}-(c\\d+)-\\d{9,}(\\.\\d+)?$`).exec(file);
      assert.ok(match, `${file} is a finished backup, not a temporary file`);
      assertBackupFile(vault, v, match[1] ?? '', join(out, file));
    }
  });

  it('stopping the pipeline while an upstream command runs (Ctrl+C between items) cancels it at once and leaves no file', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['u1', 'u2', 'u3']);
    const out = tempDir('azkvb-upstream-stop-');
    cleanup.push(out);
    // Slow answers keep item 1 in flight when the stop comes, so its temporary file must go too.
    vault.faults.setLatency(1500);
    let run;
    try {
      run = await runPwsh(
        stopNestedPipeline(
          '& { 1..3 | ForEach-Object { [pscustomobject]@{ VaultName = $v; Name = "u$_" }; Start-Sleep -Seconds 3 } } | Backup-AzKeyVaultSecret -OutputFile $out',
          // The handshake and item 1 go out right after the start; then the upstream sleeps.
          `$wait = [System.Diagnostics.Stopwatch]::StartNew()
          while ((Get-ChildCount) -eq 0 -and $wait.ElapsedMilliseconds -lt 20000) { Start-Sleep -Milliseconds 25 }
          Start-Sleep -Milliseconds 700`,
          v,
          out,
        ),
        { env: vault.env() },
      );
    } finally {
      vault.faults.setLatency(0);
    }
    assert.deepEqual(run.errors, []);
    const summary = run.outputs[0] as { before: number; stopMs: number; after: number; state: string };
    assert.equal(summary.before, 1, 'the executable was running');
    assert.equal(summary.state, 'Stopped');
    assert.equal(summary.after, 1, 'the session executable stays');
    assert.ok(summary.stopMs < 2000, `cancelled within the grace period (${summary.stopMs} ms)`);
    const sent = vault.requests.filter((r) => r.vault === v && r.operation === 'backup').map((r) => r.name);
    assert.ok(sent.length >= 1, 'item 1 had been sent');
    assert.deepEqual([...new Set(sent)], ['u1'], 'items 2 and 3 were never sent');
    assert.deepEqual(filesIn(out), [], 'no backup, partial or temporary file');
  });

  it('-Debug shows the protocol lines and the executable diagnostics', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['d1']);
    const out = tempDir('azkvb-debug-');
    cleanup.push(out);
    const run = await runPwsh(`Backup-AzKeyVaultSecret '${v}' 'd1' -OutputFile ${psQuote(out)} -Debug`, { env: vault.env() });
    assert.deepEqual(run.errors, []);
    assert.equal(run.outputs.length, 1);
    const protocol = run.debug.filter((l) => /\{"type":"(hello|begin|backup|result|end)"/.test(l));
    assert.ok(protocol.length >= 6, 'hello, begin, backup and end sent; hello and result received');
    assert.ok(run.debug.length > protocol.length, 'the executable ran at debug level and its diagnostics came through');
    assert.ok(!run.debug.some((l) => /eyJ[A-Za-z0-9_-]{10,}/.test(l)), 'no token in the debug stream');
  });

  it('a missing executable is one terminating ExecutableNotFound naming the file, however many items are piped', async function () {
    const module = copyModule();
    cleanup.push(module.dir);
    const run = await runPwsh(
      `
      try {
          @([pscustomobject]@{ VaultName = 'nowhere'; Name = 'a' }, [pscustomobject]@{ VaultName = 'nowhere'; Name = 'b' }, [pscustomobject]@{ VaultName = 'nowhere'; Name = 'c' }) |
              Backup-AzKeyVaultSecret -OutputFile ([System.IO.Path]::GetTempPath())
          'not reached'
      }
      catch { [pscustomobject]@{ caught = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); target = [string]$_.TargetObject } }
      `,
      { module: module.manifest },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputs, [
      { caught: 'ExecutableNotFound,Backup-AzKeyVaultSecret', category: 'ObjectNotFound', target: join(module.dir, 'bin', runtimeId(), exeName()) },
    ]);
  });

  it('Select-Object -First 1 over many slow items stops cleanly: no partial or temporary file, the session stays', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    const names = Array.from({ length: 40 }, (_, i) => `slow${i}`);
    seed(vault, v, names);
    const out = tempDir('azkvb-first-');
    cleanup.push(out);
    vault.faults.setLatency(400);
    let run;
    try {
      run = await runPwsh(
        `
        $items = foreach ($n in ${names.map((n) => psQuote(n)).join(', ')}) { [pscustomobject]@{ VaultName = '${v}'; Name = $n } }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $items | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -ThrottleLimit 4 | Select-Object -First 1
        [pscustomobject]@{ elapsedMs = $watch.ElapsedMilliseconds; children = @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID }).Count }
        `,
        { env: vault.env() },
      );
    } finally {
      vault.faults.setLatency(0);
    }
    assert.deepEqual(run.errors, []);
    assert.equal(run.outputs.length, 2);
    const first = String(run.outputs[0]);
    const summary = run.outputs[1] as { elapsedMs: number; children: number };
    assert.equal(summary.children, 1, 'the session executable stays, and only it');
    // 'cancel' is answered at once: no further request, no 2 s grace spent, no kill.
    assert.ok(summary.elapsedMs < 10 * 400, `stopped early (${summary.elapsedMs} ms)`);
    assert.ok(backedUp(vault, v).length < names.length, 'the rest of the pipeline was never backed up');
    assert.ok(existsSync(first));
    const files = filesIn(out);
    assert.ok(files.length >= 1 && files.length < names.length, `${files.length} files`);
    for (const file of files) {
      const match = new RegExp(`^${v}-(slow\\d+)-\\d{9,}(\\.\\d+)?$`).exec(file);
      assert.ok(match, `${file} is a finished backup, not a temporary file`);
      assertBackupFile(vault, v, match[1] ?? '', join(out, file));
    }
  });
});
