import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, backedUp, defaultNamePattern, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';

describe('PowerShell module: what -OutputFile names', function () {
  let out: string;
  afterEach(function () {
    rmSync(out, { recursive: true, force: true });
  });

  it('a trailing separator names a directory: a missing one fails that item with OutputDirectoryNotFound and writes nothing; an existing one gets the default name; without it a missing path is a file, as in Az', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('of');
    seed(vault, v, ['d1', 'd2', 'd3', 'd4']);
    out = tempDir('azkvb-outdir-');
    mkdirSync(join(out, 'there'));
    const run = await runPwsh(
      `
      Set-Location ${psQuote(out)}
      'd1', 'd2' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ./backups/
      Backup-AzKeyVaultSecret '${v}' 'd2' -OutputFile 'backups\\'
      Backup-AzKeyVaultSecret '${v}' 'd3' -OutputFile ./there/
      Backup-AzKeyVaultSecret '${v}' 'd4' -OutputFile ./backups
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, [
      'error:OutputDirectoryNotFound,Backup-AzKeyVaultSecret',
      'error:OutputDirectoryNotFound,Backup-AzKeyVaultSecret',
      'error:OutputDirectoryNotFound,Backup-AzKeyVaultSecret',
      'output',
      'output',
    ]);
    assert.deepEqual(run.errors.map((e) => e.category), ['ObjectNotFound', 'ObjectNotFound', 'ObjectNotFound']);
    assert.equal(run.errors[2]?.target, 'd2', 'the secret is the target object');
    assert.ok(run.errors.every((e) => e.message.includes(join(out, 'backups'))), run.errors[0]?.message);
    assert.match(String(run.outputs[0]), defaultNamePattern(join(out, 'there'), v, 'd3'));
    assertBackupFile(vault, v, 'd3', String(run.outputs[0]));
    assert.equal(run.outputs[1], join(out, 'backups'));
    assert.ok(statSync(join(out, 'backups')).isFile(), 'without the separator the missing path became a file');
    assertBackupFile(vault, v, 'd4', join(out, 'backups'));
    assert.deepEqual(backedUp(vault, v), ['d3', 'd4'], 'a missing directory sends no request');
  });

  it('a path of another provider (Variable:, Function:) fails that item with InvalidOutputFile naming it, and the pipeline goes on', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('op');
    seed(vault, v, ['n1', 'n2']);
    out = tempDir('azkvb-provider-');
    const run = await runPwsh(
      `
      Set-Location ${psQuote(out)}
      Backup-AzKeyVaultSecret '${v}' 'n1' -OutputFile 'Variable:\\x'
      Backup-AzKeyVaultSecret '${v}' 'n1' -OutputFile 'Function:\\x'
      Backup-AzKeyVaultSecret '${v}' 'n2' -OutputFile 'n2.blob'
      [pscustomobject]@{ variable = $null -ne (Get-Variable -Name x -ErrorAction Ignore); function = $null -ne (Get-Command -Name x -CommandType Function -ErrorAction Ignore) }
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, ['error:InvalidOutputFile,Backup-AzKeyVaultSecret', 'error:InvalidOutputFile,Backup-AzKeyVaultSecret', 'output', 'output']);
    assert.deepEqual(run.errors.map((e) => e.category), ['InvalidArgument', 'InvalidArgument']);
    assert.ok(run.errors[0]?.message.includes("'Variable:\\x'") && run.errors[0].message.includes('Variable provider'), run.errors[0]?.message);
    assert.ok(run.errors[1]?.message.includes("'Function:\\x'") && run.errors[1].message.includes('Function provider'), run.errors[1]?.message);
    assert.equal(run.outputs[0], join(out, 'n2.blob'));
    assertBackupFile(vault, v, 'n2', join(out, 'n2.blob'));
    assert.deepEqual(run.outputs[1], { variable: false, function: false });
    assert.deepEqual(backedUp(vault, v), ['n2'], 'a refused item sends no request');
    assert.deepEqual(filesIn(out), ['n2.blob']);
    assert.ok(!existsSync(join(out, 'x')));
  });
});
