import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { sharedVault } from '../support/hooks.js';
import { psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, seed, uniqueVaultName } from './vault-fixtures.js';

describe('PowerShell module: results stream', function () {
  let out: string;
  afterEach(function () {
    rmSync(out, { recursive: true, force: true });
  });

  it('a result comes out while the input is still arriving, not only once it ends', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('st');
    seed(vault, v, ['s1', 's2', 's3']);
    out = tempDir('azkvb-stream-');
    // The function only runs when an item arrives: item 1's result (ready during the first pause)
    // goes out with item 2, long before item 3 and the end of the input.
    const run = await runPwsh(
      `
      $now = { [DateTime]::UtcNow.ToString('o') }
      $emitted = [ordered]@{}
      & {
          [pscustomobject]@{ VaultName = '${v}'; Name = 's1' }
          Start-Sleep -Milliseconds 1000
          $emitted.s2 = & $now
          [pscustomobject]@{ VaultName = '${v}'; Name = 's2' }
          Start-Sleep -Milliseconds 1500
          $emitted.s3 = & $now
          [pscustomobject]@{ VaultName = '${v}'; Name = 's3' }
      } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} | ForEach-Object { '{0}|{1}' -f (& $now), $_ }
      [pscustomobject]$emitted
      `,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, []);
    assert.equal(run.outputs.length, 4);
    const arrived = (run.outputs.slice(0, 3) as string[]).map((line) => {
      const [at, path] = line.split('|');
      return { at: Date.parse(at ?? ''), path: path ?? '' };
    });
    arrived.forEach((a, i) => assertBackupFile(vault, v, `s${i + 1}`, a.path));
    const emitted = run.outputs[3] as { s2: string; s3: string };
    const s3At = Date.parse(emitted.s3);
    assert.ok(arrived[0]!.at >= Date.parse(emitted.s2), 'item 1 came out when item 2 arrived');
    assert.ok(arrived[0]!.at < s3At - 1000, `item 1 came out ${s3At - arrived[0]!.at} ms before item 3 was even emitted`);
  });
});
