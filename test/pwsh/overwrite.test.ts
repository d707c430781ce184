import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
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

  it('with -Force at the default concurrency the later item wins even when the earlier one is delayed', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['late1', 'late2']);
    out = tempDir('azkvb-order-');
    const target = join(out, 'one.blob');
    // The first backup is throttled once: were the two written independently, it would land last.
    vault.faults.add({ vault: v, name: 'late1', operation: 'backup' }, { kind: 'status', status: 429, headers: { 'retry-after-ms': '400' } });
    try {
      const run = await runPwsh(
        `@([pscustomobject]@{ VaultName = '${v}'; Name = 'late1' }, [pscustomobject]@{ VaultName = '${v}'; Name = 'late2' }) | Backup-AzKeyVaultSecret -OutputFile ${psQuote(target)} -Force`,
        { env: vault.env() },
      );
      assert.deepEqual(run.sequence, ['output', 'output']);
      assert.deepEqual(run.outputs, [target, target]);
    } finally {
      vault.faults.clear();
    }
    assert.ok(
      vault.requests.some((r) => r.vault === v && r.name === 'late1' && r.status === 429),
      'the earlier item was held back (a lone process would have written it after the later one)',
    );
    const first = vault.lastBackupBlob(v, 'late1');
    assert.ok(first && !first.equals(readFileSync(target)));
    assert.deepEqual(readFileSync(target), vault.lastBackupBlob(v, 'late2'), 'the later item wins, as in Az');
  });

  it('on a case-sensitive file system, paths that differ only in case are two files, not one existing file', async function () {
    if (process.platform === 'win32' || process.platform === 'darwin') this.skip();
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['case1', 'case2']);
    out = tempDir('azkvb-case-');
    mkdirSync(join(out, 'A'));
    mkdirSync(join(out, 'a'));
    // A relative -OutputFile is resolved per item against the location of that moment: the
    // upstream moves from A to a, so the two targets differ only in case.
    const run = await runPwsh(
      `& { Set-Location ${psQuote(join(out, 'A'))}; [pscustomobject]@{ VaultName = '${v}'; Name = 'case1' }; Set-Location ${psQuote(join(out, 'a'))}; [pscustomobject]@{ VaultName = '${v}'; Name = 'case2' } } |
        Backup-AzKeyVaultSecret -OutputFile x.blob`,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, ['output', 'output']);
    assert.deepEqual(run.outputs, [join(out, 'A', 'x.blob'), join(out, 'a', 'x.blob')]);
    assertBackupFile(vault, v, 'case1', join(out, 'A', 'x.blob'));
    assertBackupFile(vault, v, 'case2', join(out, 'a', 'x.blob'));
  });
});
