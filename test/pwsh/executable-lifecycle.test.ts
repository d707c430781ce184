import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { runtimeId } from '../support/paths.js';
import { copyModule, psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, backedUp, backupRequests, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';

const EXE_NAME = process.platform === 'win32' ? 'az-keyvault-backup.exe' : 'az-keyvault-backup';

describe('PowerShell module: when the executable starts and ends', function () {
  const cleanup: string[] = [];
  after(function () {
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('-WhatIf starts no executable and sends no request, in every parameter set and down a pipeline', async function () {
    if (process.platform === 'win32') this.skip(); // the trap is a shell script
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['w1', 'w2']);
    const logDir = tempDir('azkvb-trap-');
    cleanup.push(logDir);
    const trapLog = join(logDir, 'started.log');
    // A stand-in at the exact place the module looks: it records every start, then fails.
    const module = copyModule({ rid: runtimeId(), name: EXE_NAME, content: `#!/bin/sh\necho started >> "$AZKVB_TRAP_LOG"\nexit 3\n`, mode: 0o755 });
    cleanup.push(module.dir);
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
    assert.equal(readFileSync(trapLog, 'utf8'), 'started\n', 'exactly one start, the one without -WhatIf');
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
      { caught: 'ExecutableNotFound,Backup-AzKeyVaultSecret', category: 'ObjectNotFound', target: join(module.dir, 'bin', runtimeId(), EXE_NAME) },
    ]);
  });

  it('Select-Object -First 1 over many slow items stops cleanly: no partial or temporary file, no child left', async function () {
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
    assert.equal(summary.children, 0, 'the executable is gone');
    // Closing stdin without 'end' aborts at once: no further request, no 2 s grace spent, no kill.
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
