import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import type { ItemKind, LocalVault } from '../support/local-vault/index.js';
import { psQuote, runPwsh, useCleanups } from './run-pwsh.js';
import { defaultNamePattern, filesIn, uniqueVaultName } from './vault-fixtures.js';

// Backup-AzKeyVaultKey and Backup-AzKeyVaultCertificate, driven by real pwsh against the local
// vault: every way of naming the item, files and folders, the exact bytes the vault served, and the
// per-item errors of a piped whole-vault backup.

/** The file holds exactly the bytes the vault (or HSM) last served for that item. */
function assertBlob(vault: LocalVault, container: string, name: string, kind: ItemKind, path: string, hsm = false): void {
  const expected = vault.lastBackupBlob(container, name, { kind, hsm });
  assert.ok(expected, `the ${hsm ? 'HSM' : 'vault'} served a ${kind} backup of ${container}/${name}`);
  assert.deepEqual(readFileSync(path), expected, `${path} holds the ${kind} backup of ${name}`);
}

/** Names whose backup of this kind the vault (or HSM) answered with 200. */
function backedUp(vault: LocalVault, container: string, kind: ItemKind, hsm = false): string[] {
  return vault.requests
    .filter((r) => r.vault === container && r.operation === 'backup' && r.status === 200 && r.kind === kind && (r.hsm === true) === hsm)
    .map((r) => r.name ?? '')
    .sort();
}

describe('PowerShell module: Backup-AzKeyVaultKey and Backup-AzKeyVaultCertificate against the local vault', function () {
  const cleanups = useCleanups();

  it('backs up keys by name, position, alias, piped objects (one of a Managed HSM) and -HsmName, to files and folders, with the bytes the vault served', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('key');
    const hsm = uniqueVaultName('hsm');
    for (const name of ['k-named', 'k-pos', 'k-alias', 'k-default', 'k-pipe1', 'k-pipe2', 'k-slash']) vault.setKey(v, name);
    vault.setKey(v, 'k-named'); // two versions: the backup holds both, the file is still one blob
    vault.setKey(hsm, 'hk-pipe', { hsm: true });
    vault.setKey(hsm, 'hk-name', { hsm: true });
    const work = cleanups.dir('azkvb-keys-');
    const folder = join(work, 'folder');
    const slashFolder = join(work, 'slash');
    mkdirSync(folder);
    mkdirSync(slashFolder);
    const run = await runPwsh(
      `
      Set-Location ${psQuote(work)}
      Backup-AzKeyVaultKey -VaultName '${v}' -Name 'k-named' -OutputFile named.blob
      Backup-AzKeyVaultKey '${v}' 'k-pos' 'pos.blob'
      Backup-AzKeyVaultKey -VaultName '${v}' -KeyName 'k-alias' -OutputFile ./alias.blob
      Backup-AzKeyVaultKey -VaultName '${v}' -Name 'k-default'
      @(
          [pscustomobject]@{ VaultName = '${v}'; Name = 'k-pipe1' },
          [pscustomobject]@{ VaultName = '${hsm}'; Name = 'hk-pipe'; IsHsm = $true },
          [pscustomobject]@{ VaultName = '${v}'; Name = 'k-pipe2'; IsHsm = $false }
      ) | Backup-AzKeyVaultKey -OutputFile folder
      Backup-AzKeyVaultKey -HsmName '${hsm}' -Name 'hk-name' -OutputFile hsm.blob
      Backup-AzKeyVaultKey -Key ([pscustomobject]@{ VaultName = '${v}'; Name = 'k-slash' }) -OutputFile ./slash/
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.outputTypes, Array(9).fill('System.String'));
    const outputs = run.outputs as string[];
    assert.deepEqual(outputs.slice(0, 3), [join(work, 'named.blob'), join(work, 'pos.blob'), join(work, 'alias.blob')]);
    assert.match(outputs[3] ?? '', defaultNamePattern(work, v, 'k-default'), 'default name in the PowerShell location');
    assert.match(outputs[4] ?? '', defaultNamePattern(folder, v, 'k-pipe1'), 'an existing folder gets default names');
    assert.match(outputs[5] ?? '', defaultNamePattern(folder, hsm, 'hk-pipe'), "an HSM key's default name starts with the HSM's name");
    assert.match(outputs[6] ?? '', defaultNamePattern(folder, v, 'k-pipe2'));
    assert.equal(outputs[7], join(work, 'hsm.blob'));
    assert.match(outputs[8] ?? '', defaultNamePattern(slashFolder, v, 'k-slash'), 'a trailing separator names a folder');
    assert.equal(filesIn(folder).length, 3);

    const vaultKeys: [string, number][] = [['k-named', 0], ['k-pos', 1], ['k-alias', 2], ['k-default', 3], ['k-pipe1', 4], ['k-pipe2', 6], ['k-slash', 8]];
    for (const [name, i] of vaultKeys) assertBlob(vault, v, name, 'key', outputs[i] ?? '');
    assertBlob(vault, hsm, 'hk-pipe', 'key', outputs[5] ?? '', true);
    assertBlob(vault, hsm, 'hk-name', 'key', outputs[7] ?? '', true);

    assert.deepEqual(backedUp(vault, v, 'key'), vaultKeys.map(([name]) => name).sort());
    assert.deepEqual(backedUp(vault, hsm, 'key', true), ['hk-name', 'hk-pipe'], 'the IsHsm object and -HsmName went to the Managed HSM');
    assert.ok(
      vault.requests.filter((r) => r.vault === hsm).every((r) => r.hsm === true),
      'nothing of the HSM went to a vault of that name',
    );
    assert.deepEqual(
      vault.requests.filter((r) => r.vault === v && r.operation === 'backup').map((r) => r.kind).filter((k) => k !== 'key'),
      [],
      'only key backups were asked of the vault',
    );
  });

  it("a certificate's key among piped keys is a non-terminating ManagedByCertificate in its place, a missing key is KeyNotFound, and the other keys are backed up", async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('keyerr');
    vault.setKey(v, 'first');
    vault.setCertificate(v, 'web-tls');
    vault.setKey(v, 'last');
    const out = cleanups.dir('azkvb-keyerr-');
    const run = await runPwsh(
      `
      @(
          [pscustomobject]@{ VaultName = '${v}'; Name = 'first' },
          [pscustomobject]@{ VaultName = '${v}'; Name = 'web-tls' },
          [pscustomobject]@{ VaultName = '${v}'; Name = 'missing' },
          [pscustomobject]@{ VaultName = '${v}'; Name = 'last' }
      ) | Backup-AzKeyVaultKey -OutputFile ${psQuote(out)}
      Backup-AzKeyVaultKey -VaultName '${v}' -Name 'nope' -OutputFile ${psQuote(join(out, 'nope.blob'))}
      'after'
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, [
      'output',
      'error:ManagedByCertificate,Backup-AzKeyVaultKey',
      'error:KeyNotFound,Backup-AzKeyVaultKey',
      'output',
      'error:KeyNotFound,Backup-AzKeyVaultKey',
      'output',
    ]);
    assert.deepEqual(
      run.errors.map((e) => [e.category, e.targetType]),
      [
        ['InvalidOperation', 'System.Management.Automation.PSCustomObject'],
        ['ObjectNotFound', 'System.Management.Automation.PSCustomObject'],
        ['ObjectNotFound', 'System.String'],
      ],
    );
    assert.match(run.errors[0]?.message ?? '', new RegExp(`Backup-AzKeyVaultCertificate -VaultName '${v}' -Name 'web-tls'`), 'the refusal names the certificate to back up instead');
    const outputs = run.outputs as string[];
    assert.match(outputs[0] ?? '', defaultNamePattern(out, v, 'first'));
    assert.match(outputs[1] ?? '', defaultNamePattern(out, v, 'last'));
    assert.equal(outputs[2], 'after', 'the script went on');
    assertBlob(vault, v, 'first', 'key', outputs[0] ?? '');
    assertBlob(vault, v, 'last', 'key', outputs[1] ?? '');
    assert.deepEqual(filesIn(out).length, 2, 'no file for the refused or missing keys');
    assert.deepEqual(backedUp(vault, v, 'key'), ['first', 'last']);
  });

  it('backs up certificates by name, position, the -SecretName alias and piped objects, with the bytes the vault served, and names a missing one CertificateNotFound', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('cert');
    for (const name of ['c-named', 'c-pos', 'c-alias', 'c-pipe1', 'c-pipe2']) vault.setCertificate(v, name);
    vault.setCertificate(v, 'c-named');
    const work = cleanups.dir('azkvb-certs-');
    const folder = join(work, 'certs');
    mkdirSync(folder);
    const run = await runPwsh(
      `
      Set-Location ${psQuote(work)}
      Backup-AzKeyVaultCertificate -VaultName '${v}' -Name 'c-named' -OutputFile named.blob
      Backup-AzKeyVaultCertificate '${v}' 'c-pos' 'pos.blob'
      Backup-AzKeyVaultCertificate -VaultName '${v}' -SecretName 'c-alias' -OutputFile alias.blob
      @(
          [pscustomobject]@{ VaultName = '${v}'; Name = 'c-pipe1' },
          [pscustomobject]@{ VaultName = '${v}'; Name = 'c-missing' },
          [pscustomobject]@{ VaultName = '${v}'; Name = 'c-pipe2' }
      ) | Backup-AzKeyVaultCertificate -OutputFile certs
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, ['output', 'output', 'output', 'output', 'error:CertificateNotFound,Backup-AzKeyVaultCertificate', 'output']);
    assert.equal(run.errors[0]?.category, 'ObjectNotFound');
    const outputs = run.outputs as string[];
    assert.deepEqual(outputs.slice(0, 3), [join(work, 'named.blob'), join(work, 'pos.blob'), join(work, 'alias.blob')]);
    assert.match(outputs[3] ?? '', defaultNamePattern(folder, v, 'c-pipe1'));
    assert.match(outputs[4] ?? '', defaultNamePattern(folder, v, 'c-pipe2'));
    ['c-named', 'c-pos', 'c-alias', 'c-pipe1', 'c-pipe2'].forEach((name, i) => assertBlob(vault, v, name, 'certificate', outputs[i] ?? ''));
    assert.deepEqual(backedUp(vault, v, 'certificate'), ['c-alias', 'c-named', 'c-pipe1', 'c-pipe2', 'c-pos']);
    assert.deepEqual(
      vault.requests.filter((r) => r.vault === v && r.operation === 'backup' && r.kind !== 'certificate'),
      [],
      "a certificate's backup asks for the certificate only, not its key or secret",
    );
  });
});
