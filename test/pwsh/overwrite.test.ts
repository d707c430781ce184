import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, backedUp, defaultNamePattern, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';

describe('PowerShell module: existing output files', function () {
  let out: string;
  afterEach(function () {
    rmSync(out, { recursive: true, force: true });
  });

  it('refuses an existing file without a prompt in -NonInteractive, also with -Confirm:$false; -Force replaces it; a directory never prompts', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['o1', 'o2', 'o3']);
    out = tempDir('azkvb-overwrite-');
    const existing = join(out, 'exists.blob');
    const run = await runPwsh(
      `
      Set-Location ${psQuote(out)}
      [System.IO.File]::WriteAllBytes(${psQuote(existing)}, [byte[]](1, 2, 3))
      Backup-AzKeyVaultSecret '${v}' 'o1' -OutputFile exists.blob
      Backup-AzKeyVaultSecret '${v}' 'o1' -OutputFile exists.blob -Confirm:$false
      [pscustomobject]@{ intact = [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes(${psQuote(existing)})) }
      Backup-AzKeyVaultSecret '${v}' 'o2' -OutputFile exists.blob -Force
      Backup-AzKeyVaultSecret '${v}' 'o3' -OutputFile .
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, [
      'error:FileExists,Backup-AzKeyVaultSecret',
      'error:FileExists,Backup-AzKeyVaultSecret',
      'output',
      'output',
      'output',
    ]);
    assert.deepEqual(run.errors.map((e) => e.category), ['ResourceExists', 'ResourceExists']);
    assert.deepEqual(run.outputs[0], { intact: Buffer.from([1, 2, 3]).toString('base64') });
    assert.equal(run.outputs[1], existing);
    assertBackupFile(vault, v, 'o2', existing);
    assert.match(String(run.outputs[2]), defaultNamePattern(out, v, 'o3'));
    assertBackupFile(vault, v, 'o3', String(run.outputs[2]));
    assert.deepEqual(backedUp(vault, v), ['o2', 'o3'], 'a refused item sends no request');
    assert.equal(filesIn(out).length, 2);
  });

  it('a second item of one pipeline aimed at the same file counts as existing: refused without -Force, replaced with it', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['same1', 'same2']);
    out = tempDir('azkvb-same-');
    const target = join(out, 'one.blob');
    const pipe = `@([pscustomobject]@{ VaultName = '${v}'; Name = 'same1' }, [pscustomobject]@{ VaultName = '${v}'; Name = 'same2' }) | Backup-AzKeyVaultSecret -OutputFile ${psQuote(target)}`;
    const run = await runPwsh(`${pipe}\n[System.IO.File]::Delete(${psQuote(target)})\n${pipe} -Force -ThrottleLimit 1\n`, { env: vault.env() });
    assert.deepEqual(run.sequence, ['output', 'error:FileExists,Backup-AzKeyVaultSecret', 'output', 'output']);
    assert.deepEqual(run.outputs, [target, target, target]);
    assert.deepEqual(readFileSync(target), vault.lastBackupBlob(v, 'same2'), 'the later item wins, as in Az with -Force');
  });
});
