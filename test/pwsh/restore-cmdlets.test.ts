import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedVault } from '../support/hooks.js';
import type { ItemKind, LocalVault, RequestRecord } from '../support/local-vault/index.js';
import { DEFAULT_PURGE_LINGER_MS } from '../support/local-vault/items.js';
import { psQuote, runPwsh, useCleanups, type PwshRun } from './run-pwsh.js';
import { uniqueVaultName } from './vault-fixtures.js';

// Restore-AzKeyVaultSecret, -Key and -Certificate, driven by real pwsh against the local vault:
// round trips through delete and purge (the post-purge 409 waited out), every parameter set, a
// folder of files piped in, each refusal's id and category, -WhatIf and a runbook's 'Stop'.

const TYPE_NAMES: Record<ItemKind, string> = {
  secret: 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret',
  key: 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey',
  certificate: 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultCertificate',
};
const COLLECTIONS: Record<ItemKind, string> = { secret: 'secrets', key: 'keys', certificate: 'certificates' };

/** PowerShell: one restored object as plain values, with what JSON would lose (its type name, [datetime]). */
const SHOW_RESTORED = String.raw`
function Show-Restored {
    param([Parameter(ValueFromPipeline)]$Restored)
    process {
        $created = $Restored.Created
        [pscustomobject]@{
            TypeName = $Restored.PSTypeNames[0]
            VaultName = $Restored.VaultName
            Name = $Restored.Name
            Version = $Restored.Version
            Id = $Restored.Id
            Enabled = $Restored.Enabled
            CreatedIsDateTime = $created -is [datetime]
            CreatedKind = if ($created -is [datetime]) { $created.Kind.ToString() } else { $null }
            Created = if ($created -is [datetime]) { $created.ToString('o') } else { $null }
            KeyType = $Restored.KeyType
            IsHsm = $Restored.IsHsm
            Thumbprint = $Restored.Thumbprint
        }
    }
}
`;

interface Shown {
  TypeName: string;
  VaultName: string;
  Name: string;
  Version: string;
  Id: string;
  Enabled: boolean;
  CreatedIsDateTime: boolean;
  CreatedKind: string | null;
  Created: string | null;
  KeyType?: string | null;
  IsHsm?: boolean | null;
  Thumbprint?: string | null;
}

function restores(vault: LocalVault, container: string, filter: (r: RequestRecord) => boolean = () => true): RequestRecord[] {
  return vault.requests.filter((r) => r.vault === container && r.operation === 'restore' && r.authorized && filter(r));
}

function messages(run: PwshRun): string {
  return run.errors.map((e) => `${e.fqid}: ${e.message}`).join('\n');
}

/** Waits for a file the pwsh script writes, failing at once if pwsh ended first. */
async function waitForFile(path: string, running: Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  let ended = false;
  void running.then(
    () => (ended = true),
    () => (ended = true),
  );
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (ended) throw new Error(`pwsh ended before writing ${path}`);
    if (Date.now() > deadline) throw new Error(`pwsh did not write ${path} within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe('PowerShell module: Restore-AzKeyVaultSecret, -Key and -Certificate against the local vault', function () {
  const cleanups = useCleanups();

  it('brings back a secret, a key and a certificate deleted and purged, every version id, waiting out the purge (-Verbose says so), as objects of the Az type names', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('rt');
    // Long enough that the restore right after the purge meets the 409, short enough to be quick.
    vault.setPurgeLinger(700);
    cleanups.defer(() => vault.setPurgeLinger(DEFAULT_PURGE_LINGER_MS));
    vault.setSecret(v, 'rt-secret', 'first-secret-value');
    vault.setSecret(v, 'rt-secret', 'second-secret-value');
    vault.setKey(v, 'rt-key');
    vault.setKey(v, 'rt-key');
    vault.setCertificate(v, 'rt-certificate');
    vault.setCertificate(v, 'rt-certificate');
    const kinds: ItemKind[] = ['secret', 'key', 'certificate'];
    const versions = Object.fromEntries(kinds.map((kind) => [kind, vault.itemVersions(kind, v, `rt-${kind}`)])) as Record<ItemKind, string[]>;
    for (const kind of kinds) assert.equal(versions[kind].length, 2);

    const work = cleanups.dir('azkvb-roundtrip-');
    const signals = join(work, 'signals');
    mkdirSync(signals);
    // One pwsh for the whole round trip: it backs up, then for each kind says it is ready and
    // waits while this test deletes and purges that item, then restores it at once, well within
    // the purge's linger. Between the two, the session executable stays up.
    const running = runPwsh(
      `${SHOW_RESTORED}
      function Wait-Purge([string]$Kind) {
          [System.IO.File]::WriteAllText((Join-Path ${psQuote(signals)} "ready-$Kind"), '')
          $deadline = [datetime]::UtcNow.AddSeconds(30)
          while (-not (Test-Path (Join-Path ${psQuote(signals)} "purged-$Kind"))) {
              if ([datetime]::UtcNow -gt $deadline) { throw "no purge of the $Kind" }
              Start-Sleep -Milliseconds 5
          }
      }
      Set-Location ${psQuote(work)}
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'rt-secret' -OutputFile secret.blob
      Backup-AzKeyVaultKey -VaultName '${v}' -Name 'rt-key' -OutputFile key.blob
      Backup-AzKeyVaultCertificate -VaultName '${v}' -Name 'rt-certificate' -OutputFile certificate.blob
      Wait-Purge secret
      Restore-AzKeyVaultSecret -VaultName '${v}' -InputFile secret.blob -Verbose | Show-Restored
      Wait-Purge key
      Restore-AzKeyVaultKey -VaultName '${v}' -InputFile key.blob -Verbose | Show-Restored
      Wait-Purge certificate
      Restore-AzKeyVaultCertificate -VaultName '${v}' -InputFile certificate.blob -Verbose | Show-Restored
      `,
      { env: vault.env() },
    );
    const purgedAt: Partial<Record<ItemKind, number>> = {};
    for (const kind of kinds) {
      await waitForFile(join(signals, `ready-${kind}`), running);
      assert.ok(vault.deleteItem(kind, v, `rt-${kind}`), `the ${kind} was deleted`);
      assert.ok(vault.purgeItem(kind, v, `rt-${kind}`), `the ${kind} was purged`);
      assert.equal(vault.itemState(kind, v, `rt-${kind}`), 'purging');
      purgedAt[kind] = Date.now();
      writeFileSync(join(signals, `purged-${kind}`), '');
    }
    const run = await running;

    assert.deepEqual(run.errors, [], messages(run));
    assert.deepEqual(run.outputs.slice(0, 3), [join(work, 'secret.blob'), join(work, 'key.blob'), join(work, 'certificate.blob')]);
    const shown = run.outputs.slice(3) as Shown[];
    assert.equal(shown.length, 3);
    kinds.forEach((kind, i) => {
      const item = shown[i]!;
      const name = `rt-${kind}`;
      assert.equal(item.TypeName, TYPE_NAMES[kind]);
      assert.deepEqual([item.VaultName, item.Name, item.Version, item.Enabled], [v, name, versions[kind][1], true]);
      assert.ok(item.Id.endsWith(`/${COLLECTIONS[kind]}/${name}/${versions[kind][1]}`), item.Id);
      assert.ok(item.Id.startsWith(`https://${v}.`), item.Id);
      assert.deepEqual([item.CreatedIsDateTime, item.CreatedKind], [true, 'Utc'], 'Created is a UTC [datetime]');
      assert.ok(Math.abs(Date.parse(item.Created ?? '') - Date.now()) < 10 * 60_000, `Created ${item.Created} is the seeded version's time`);
      assert.deepEqual(vault.itemVersions(kind, v, name), versions[kind], `every version of the ${kind} back, with its id`);
      assert.equal(vault.itemState(kind, v, name), 'active');

      const attempts = restores(vault, v, (r) => r.kind === kind);
      assert.ok(attempts.some((r) => r.status === 409), `the ${kind}'s purge was still lingering at first`);
      assert.equal(attempts.at(-1)?.status, 200);
      assert.ok((attempts.at(-1)?.startedAt ?? 0) >= (purgedAt[kind] ?? Infinity), 'the restore came after the purge');
      assert.ok(
        run.verbose.some((m) => m.includes(`restoring ${kind} '${name}'`) && m.includes('purge of it is still finishing')),
        `-Verbose shows the ${kind}'s wait: ${run.verbose.join(' | ')}`,
      );
    });
    assert.equal(shown[1]!.KeyType, 'RSA');
    assert.equal(shown[1]!.IsHsm, false);
    assert.match(shown[2]!.Thumbprint ?? '', /^[0-9A-F]{40}$/);
    assert.deepEqual([vault.itemState('secret', v, 'rt-certificate'), vault.itemState('key', v, 'rt-certificate')], ['active', 'active'], "the certificate's own secret and key came back with it");
    assert.ok(!JSON.stringify(run).includes('secret-value'), 'no secret value in any stream');
  });

  it('restores into the vault each parameter set names: -VaultName -InputFile (also positional), a piped vault object, -ResourceId/-ParentResourceId, -Id, and a key into -HsmName', async function () {
    const vault = sharedVault();
    const src = uniqueVaultName('src');
    const dst = uniqueVaultName('dst');
    const hsmSrc = uniqueVaultName('hsrc');
    const hsmDst = uniqueVaultName('hdst');
    const secrets = ['s-named', 's-positional', 's-object', 's-resource', 's-parent', 's-id', 's-secretid'];
    for (const name of secrets) vault.setSecret(src, name, `value of ${name}`);
    vault.setKey(src, 'k-resource');
    vault.setCertificate(src, 'c-object');
    vault.setKey(hsmSrc, 'hk', { hsm: true });
    const work = cleanups.dir('azkvb-sets-');
    const rid = `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/${dst}`;
    // Restored into another vault of the same subscription and geography: no delete, no purge.
    const run = await runPwsh(
      `${SHOW_RESTORED}
      Set-Location ${psQuote(work)}
      foreach ($name in ${secrets.map(psQuote).join(', ')}) { [void](Backup-AzKeyVaultSecret -VaultName '${src}' -Name $name -OutputFile "$name.blob") }
      [void](Backup-AzKeyVaultKey -VaultName '${src}' -Name 'k-resource' -OutputFile k-resource.blob)
      [void](Backup-AzKeyVaultCertificate -VaultName '${src}' -Name 'c-object' -OutputFile c-object.blob)
      [void](Backup-AzKeyVaultKey -HsmName '${hsmSrc}' -Name 'hk' -OutputFile hk.blob)
      $target = [pscustomobject]@{ VaultName = '${dst}'; ResourceGroupName = 'g' }
      Restore-AzKeyVaultSecret -VaultName '${dst}' -InputFile s-named.blob | Show-Restored
      Restore-AzKeyVaultSecret '${dst}' 's-positional.blob' | Show-Restored
      $target | Restore-AzKeyVaultSecret -InputFile s-object.blob | Show-Restored
      Restore-AzKeyVaultSecret -ResourceId '${rid}' -InputFile s-resource.blob | Show-Restored
      Restore-AzKeyVaultSecret -ParentResourceId '${rid}' -InputFile s-parent.blob | Show-Restored
      Restore-AzKeyVaultSecret -Id 'https://${dst}.vault.azure.net/secrets/s-id' -InputFile s-id.blob | Show-Restored
      Restore-AzKeyVaultSecret -SecretId 'https://${dst}.vault.azure.net/secrets/s-secretid/0123456789abcdef0123456789abcdef' -InputFile s-secretid.blob | Show-Restored
      Restore-AzKeyVaultKey -ResourceId '${rid}' -InputFile k-resource.blob | Show-Restored
      $target | Restore-AzKeyVaultCertificate -InputFile c-object.blob | Show-Restored
      Restore-AzKeyVaultKey -HsmName '${hsmDst}' -InputFile hk.blob | Show-Restored
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, [], messages(run));
    const shown = run.outputs as Shown[];
    assert.deepEqual(
      shown.map((s) => [s.TypeName, s.VaultName, s.Name]),
      [
        ...secrets.map((name) => [TYPE_NAMES.secret, dst, name]),
        [TYPE_NAMES.key, dst, 'k-resource'],
        [TYPE_NAMES.certificate, dst, 'c-object'],
        [TYPE_NAMES.key, hsmDst, 'hk'],
      ],
    );
    assert.equal(shown.at(-1)?.IsHsm, true, 'the HSM restore says it is an HSM key');
    assert.ok(shown.at(-1)?.Id.startsWith(`https://${hsmDst}.managedhsm.`), shown.at(-1)?.Id);
    for (const name of secrets) assert.deepEqual(vault.itemVersions('secret', dst, name), vault.itemVersions('secret', src, name), `${name} in ${dst}, same version id`);
    assert.equal(vault.itemState('key', dst, 'k-resource'), 'active');
    assert.equal(vault.itemState('certificate', dst, 'c-object'), 'active');
    assert.equal(vault.itemState('key', hsmDst, 'hk', { hsm: true }), 'active');
    assert.equal(vault.itemState('key', hsmDst, 'hk'), 'absent', 'not into a vault of the HSM name');
    assert.deepEqual(
      restores(vault, dst).map((r) => [r.kind, r.status]),
      [...secrets.map(() => ['secret', 200]), ['key', 200], ['certificate', 200]],
    );
    assert.deepEqual(restores(vault, hsmDst).map((r) => [r.hsm, r.kind, r.status]), [[true, 'key', 200]]);
    assert.deepEqual(restores(vault, src), [], 'nothing was restored into the vault the backups came from');
  });

  it('restores a folder of 20 files piped from Get-ChildItem concurrently, the objects in the files’ order', async function () {
    const vault = sharedVault();
    const src = uniqueVaultName('msrc');
    const dst = uniqueVaultName('mdst');
    const names = Array.from({ length: 20 }, (_, i) => `m${String(i + 1).padStart(2, '0')}`);
    for (const name of names) vault.setSecret(src, name, `value of ${name}`);
    const folder = cleanups.dir('azkvb-many-');
    // Each answer takes a while, so restores sent together are seen in flight together.
    vault.faults.setLatency(60);
    cleanups.defer(() => vault.faults.clear());
    const run = await runPwsh(
      `${SHOW_RESTORED}
      ${names.map((n) => `[pscustomobject]@{ VaultName = '${src}'; Name = '${n}' }`).join(', ')} | Backup-AzKeyVaultSecret -OutputFile ${psQuote(folder)} | Out-Null
      $files = @(Get-ChildItem ${psQuote(folder)})
      $files | ForEach-Object Name
      $files | Restore-AzKeyVaultSecret -VaultName '${dst}' | Show-Restored
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, [], messages(run));
    const fileNames = run.outputs.slice(0, 20) as string[];
    assert.deepEqual(fileNames, [...fileNames].sort(), 'Get-ChildItem gave the files sorted');
    const shown = run.outputs.slice(20) as Shown[];
    assert.deepEqual(
      shown.map((s) => s.Name),
      fileNames.map((f) => f.slice(`${src}-`.length).replace(/-\d+(\.\d+)?$/, '')),
      'one restored object per file, in the files’ order',
    );
    assert.deepEqual(shown.map((s) => s.Name), names);
    assert.ok(shown.every((s) => s.VaultName === dst && s.TypeName === TYPE_NAMES.secret));
    const sent = restores(vault, dst);
    assert.equal(sent.length, 20);
    assert.ok(sent.every((r) => r.status === 200));
    const overlapping = Math.max(...sent.map((r) => sent.filter((o) => o.startedAt < r.endedAt && o.endedAt > r.startedAt).length));
    assert.ok(overlapping > 1, `restores went concurrently (at most ${overlapping} at once)`);
  });

  it('refuses a name in use, a soft-deleted name, a backup of another kind or geography and a missing file, each with its id and category, and the pipeline goes on', async function () {
    const vault = sharedVault();
    const src = uniqueVaultName('esrc');
    const dst = uniqueVaultName('edst');
    const europe = uniqueVaultName('eeu');
    const nofile = uniqueVaultName('enf');
    for (const name of ['taken', 'gone', 'fine', 'last']) vault.setSecret(src, name, `value of ${name}`);
    vault.setKey(src, 'a-key');
    vault.setSecret(dst, 'taken', 'in use in the target');
    vault.setSecret(dst, 'gone', 'deleted in the target');
    assert.ok(vault.deleteItem('secret', dst, 'gone'));
    vault.setVaultScope(europe, { subscription: 'sub-1', geography: 'europe' });
    const work = cleanups.dir('azkvb-errors-');
    const file = (name: string) => join(work, `${name}.blob`);
    const run = await runPwsh(
      `
      Set-Location ${psQuote(work)}
      foreach ($name in 'taken', 'gone', 'fine', 'last') { [void](Backup-AzKeyVaultSecret -VaultName '${src}' -Name $name -OutputFile "$name.blob") }
      [void](Backup-AzKeyVaultKey -VaultName '${src}' -Name 'a-key' -OutputFile a-key.blob)
      @(
          (Get-Item taken.blob),
          (Get-Item gone.blob),
          (Get-Item a-key.blob),
          [pscustomobject]@{ FullName = ${psQuote(file('missing'))} },
          (Get-Item fine.blob)
      ) | Restore-AzKeyVaultSecret -VaultName '${dst}' | ForEach-Object Name
      Restore-AzKeyVaultSecret -VaultName '${europe}' -InputFile last.blob
      Restore-AzKeyVaultSecret -VaultName '${nofile}' -InputFile missing.blob
      'after'
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.sequence, [
      'error:ItemExists,Restore-AzKeyVaultSecret',
      'error:ItemSoftDeleted,Restore-AzKeyVaultSecret',
      'error:InvalidBackup,Restore-AzKeyVaultSecret',
      'error:InputFileNotFound,Restore-AzKeyVaultSecret',
      'output',
      'error:InvalidBackup,Restore-AzKeyVaultSecret',
      'error:InputFileNotFound,Restore-AzKeyVaultSecret',
      'output',
    ], messages(run));
    assert.deepEqual(run.errors.map((e) => e.category), ['ResourceExists', 'ResourceUnavailable', 'InvalidData', 'ObjectNotFound', 'InvalidData', 'ObjectNotFound']);
    assert.deepEqual(run.outputs, ['fine', 'after']);
    assert.equal(vault.itemState('secret', dst, 'fine'), 'active');
    assert.equal(vault.itemState('secret', dst, 'gone'), 'deleted', 'the soft-deleted secret was left as it was');
    assert.equal(vault.itemState('secret', dst, 'a-key'), 'absent');
    assert.equal(vault.itemState('secret', europe, 'last'), 'absent');
    // One attempt each, none retried; the missing file sent nothing.
    assert.deepEqual(restores(vault, dst).map((r) => r.status).sort(), [200, 400, 409, 409], 'four restores reached the vault, not five');
    assert.equal(restores(vault, europe).length, 1);
    assert.deepEqual(vault.requests.filter((r) => r.vault === nofile), [], 'no request at all for a missing file');
  });

  it('-WhatIf sends nothing and says what it would restore where; in a runbook with $ErrorActionPreference = Stop the first failing restore is a terminating error with its id', async function () {
    const vault = sharedVault();
    const src = uniqueVaultName('wsrc');
    const whatIf = uniqueVaultName('wif');
    const dst = uniqueVaultName('wdst');
    for (const name of ['ok1', 'taken', 'ok2']) vault.setSecret(src, name, `value of ${name}`);
    vault.setSecret(dst, 'taken', 'in use');
    const work = cleanups.dir('azkvb-whatif-');
    const run = await runPwsh(
      `$ErrorActionPreference = 'Stop'
      Set-Location ${psQuote(work)}
      foreach ($name in 'ok1', 'taken', 'ok2') { [void](Backup-AzKeyVaultSecret -VaultName '${src}' -Name $name -OutputFile "$name.blob") }
      Restore-AzKeyVaultSecret -VaultName '${whatIf}' -InputFile ok1.blob -WhatIf
      Get-ChildItem *.blob | Restore-AzKeyVaultSecret -VaultName '${whatIf}' -WhatIf
      try {
          @((Get-Item ok1.blob), (Get-Item taken.blob), (Get-Item ok2.blob)) | Restore-AzKeyVaultSecret -VaultName '${dst}' | ForEach-Object Name
          'not reached'
      }
      catch { [pscustomobject]@{ caught = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString() } }
      Restore-AzKeyVaultSecret -VaultName '${dst}' -InputFile taken.blob
      'not reached either'
      `,
      { env: vault.env() },
    );
    assert.deepEqual(vault.requests.filter((r) => r.vault === whatIf), [], '-WhatIf sent nothing');
    const whatIfLines = run.hostOutput.split(/\r?\n/).filter((l) => l.startsWith('What if:'));
    assert.deepEqual(whatIfLines, Array(4).fill(`What if: Performing the operation "Restore secret" on target "${whatIf}".`));
    assert.deepEqual(run.outputs, ['ok1', { caught: 'ItemExists,Restore-AzKeyVaultSecret', category: 'ResourceExists' }]);
    assert.deepEqual(
      run.errors.map((e) => [e.fqid, e.category]),
      [['ItemExists,Restore-AzKeyVaultSecret', 'ResourceExists']],
      'the uncaught one ended the runbook',
    );
    assert.equal(vault.itemState('secret', dst, 'ok1'), 'active');
  });
});
