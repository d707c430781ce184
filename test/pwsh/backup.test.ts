import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { DEFINE_AZ_TYPES } from './az-types.js';
import { psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, backedUp, defaultNamePattern, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';

const UNICODE_NAME = 'sauvegarde-\u00e9t\u00e9-\u6c49\u5b57-\u{1F510}.blob';

describe('PowerShell module: Backup-AzKeyVaultSecret against the local vault', function () {
  const dirs: string[] = [];
  const dir = (prefix: string) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  after(function () {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('backs up through every parameter set, alias and position, resolving paths against the PowerShell location', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    const secrets = ['s-default', 's-positional', 's-alias', 's-input', 's-secret', 's-posobj', 's-id', 's-secretid', 's-drive', 's-home', 's-verbose'];
    seed(vault, v, secrets);
    const work = dir('azkvb-sets-');
    const home = dir('azkvb-home-');
    const driveRoot = join(work, 'drive');
    mkdirSync(driveRoot);
    const run = await runPwsh(
      `
      Set-Location ${psQuote(work)}
      $o = [pscustomobject]@{ VaultName = '${v}'; Name = 's-input' }
      $s = [pscustomobject]@{ VaultName = '${v}'; Name = 's-secret' }
      $p = [pscustomobject]@{ VaultName = '${v}'; Name = 's-posobj' }
      New-PSDrive -Scope Global -Name bk -PSProvider FileSystem -Root ${psQuote(driveRoot)} | Out-Null
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 's-default'
      Backup-AzKeyVaultSecret '${v}' 's-positional' 'positional.blob'
      Backup-AzKeyVaultSecret -VaultName '${v}' -SecretName 's-alias' -OutputFile ./alias.blob
      Backup-AzKeyVaultSecret -InputObject $o -OutputFile input.blob
      Backup-AzKeyVaultSecret -Secret $s -OutputFile secret.blob
      Backup-AzKeyVaultSecret $p 'posobj.blob'
      Backup-AzKeyVaultSecret -Id 'https://${v}.vault.azure.net/secrets/s-id' -OutputFile id.blob
      Backup-AzKeyVaultSecret -SecretId 'https://${v}.vault.azure.net/secrets/s-secretid/0123456789abcdef0123456789abcdef' -OutputFile secretid.blob
      Backup-AzKeyVaultSecret '${v}' 's-drive' -OutputFile 'bk:\\drive.blob'
      Backup-AzKeyVaultSecret '${v}' 's-home' -OutputFile '~/home.blob'
      Backup-AzKeyVaultSecret '${v}' 's-verbose' -OutputFile verbose.blob -Verbose
      `,
      { env: { ...vault.env(), HOME: home } },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputTypes, Array(secrets.length).fill('System.String'));
    const [defaultPath, ...rest] = run.outputs as string[];
    assert.match(defaultPath ?? '', defaultNamePattern(work, v, 's-default'), 'default name, in the PowerShell location');
    assert.deepEqual(rest, [
      join(work, 'positional.blob'),
      join(work, 'alias.blob'),
      join(work, 'input.blob'),
      join(work, 'secret.blob'),
      join(work, 'posobj.blob'),
      join(work, 'id.blob'),
      join(work, 'secretid.blob'),
      join(driveRoot, 'drive.blob'),
      join(home, 'home.blob'),
      join(work, 'verbose.blob'),
    ]);
    secrets.forEach((name, i) => assertBackupFile(vault, v, name, (run.outputs as string[])[i] ?? ''));
    assert.ok(run.verbose.length > 0, '-Verbose says what is backed up and where');
    assert.deepEqual(run.warnings, []);
  });

  it('binds Az-typed objects from the pipeline in order, with per-item errors in their place and the rest going on', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['p1', 'p2', 'p3', 'p4']);
    const out = dir('azkvb-pipe-');
    const run = await runPwsh(
      `${DEFINE_AZ_TYPES}
      $items = @(
          (New-AzSecretItem '${v}' 'p1'),
          (New-AzSecretItem '${v}' 'p2' -Full),
          'not-a-secret',
          (New-AzSecretItem '${v}' 'missing'),
          (New-AzSecretItem '${v}' 'p3' -Full),
          [pscustomobject]@{ Name = 'no-vault' },
          (New-AzSecretItem '${v}' 'p4')
      )
      $items | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)}
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, [
      'output',
      'output',
      'error:InvalidInputObject,Backup-AzKeyVaultSecret',
      'error:SecretNotFound,Backup-AzKeyVaultSecret',
      'output',
      'error:InvalidInputObject,Backup-AzKeyVaultSecret',
      'output',
    ]);
    assert.deepEqual(
      run.errors.map((e) => [e.category, e.targetType]),
      [
        ['InvalidArgument', 'System.String'],
        ['ObjectNotFound', 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem'],
        ['InvalidArgument', 'System.Management.Automation.PSCustomObject'],
      ],
    );
    const outputs = run.outputs as string[];
    ['p1', 'p2', 'p3', 'p4'].forEach((name, i) => {
      assert.match(outputs[i] ?? '', defaultNamePattern(out, v, name), 'an existing directory as -OutputFile gets default names');
      assertBackupFile(vault, v, name, outputs[i] ?? '');
    });
    assert.deepEqual(filesIn(out).length, 4);
    assert.deepEqual([...backedUp(vault, v)].sort(), ['p1', 'p2', 'p3', 'p4']);
  });

  it("a certificate's own secret in a whole-vault pipeline is one ManagedByCertificate error in its place (never AccessDenied), naming the certificate, and the rest goes on", async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('cert');
    seed(vault, v, ['c1', 'c2']);
    vault.setCertificateSecret(v, 'web-tls', '-----BEGIN PRIVATE KEY-----');
    const out = dir('azkvb-cert-');
    const run = await runPwsh(
      `${DEFINE_AZ_TYPES}
      @((New-AzSecretItem '${v}' 'c1'), (New-AzSecretItem '${v}' 'web-tls'), (New-AzSecretItem '${v}' 'c2')) | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)}
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, ['output', 'error:ManagedByCertificate,Backup-AzKeyVaultSecret', 'output']);
    const [refused] = run.errors;
    assert.equal(refused?.category, 'InvalidOperation');
    assert.equal(refused?.targetType, 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem');
    assert.match(refused?.message ?? '', new RegExp(`Backup-AzKeyVaultCertificate -VaultName '${v}' -Name 'web-tls'`));
    assert.deepEqual(filesIn(out).length, 2, 'no file for the refused secret');
    assert.deepEqual([...backedUp(vault, v)].sort(), ['c1', 'c2']);
  });

  it('-ErrorAction Stop turns a failed item into a terminating error for the caller', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['e1', 'e3']);
    const out = dir('azkvb-stop-');
    const run = await runPwsh(
      `
      try {
          @([pscustomobject]@{ VaultName = '${v}'; Name = 'e1' }, [pscustomobject]@{ VaultName = '${v}'; Name = 'e2' }, [pscustomobject]@{ VaultName = '${v}'; Name = 'e3' }) |
              Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -ErrorAction Stop
          'not reached'
      }
      catch { [pscustomobject]@{ caught = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString() } }
      @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID }).Count
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, []);
    assert.equal(run.outputs.length, 3);
    assert.match(String(run.outputs[0]), defaultNamePattern(out, v, 'e1'));
    assert.deepEqual(run.outputs[1], { caught: 'SecretNotFound,Backup-AzKeyVaultSecret', category: 'ObjectNotFound' });
    assert.equal(run.outputs[2], 1, 'the session executable stays for the next call, and only it');
  });

  it('puts the default file in the PowerShell location even when the process working directory is elsewhere', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName();
    seed(vault, v, ['here', 'unicode']);
    const location = dir('azkvb-location-');
    const processCwd = dir('azkvb-cwd-');
    const run = await runPwsh(
      `
      Set-Location ${psQuote(location)}
      [pscustomobject]@{ processCwd = [System.IO.Directory]::GetCurrentDirectory() }
      Backup-AzKeyVaultSecret '${v}' 'here'
      Backup-AzKeyVaultSecret '${v}' 'unicode' -OutputFile ${psQuote(UNICODE_NAME)}
      `,
      { env: vault.env(), cwd: processCwd },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputs[0], { processCwd });
    assert.match(String(run.outputs[1]), defaultNamePattern(location, v, 'here'));
    assert.deepEqual(filesIn(processCwd), []);
    assertBackupFile(vault, v, 'here', String(run.outputs[1]));
    // Non-ASCII travels \u-escaped on the ASCII-only protocol and comes out as the same name.
    assert.equal(run.outputs[2], join(location, UNICODE_NAME));
    assertBackupFile(vault, v, 'unicode', join(location, UNICODE_NAME));
  });
});
