import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedVault } from '../support/hooks.js';
import { exePath, pwshPath } from '../support/paths.js';
import { startProcess } from '../support/spawn.js';
import { pidsRunning } from './fixtures/az-accounts.js';
import { moduleManifestPath, psQuote, tempDir } from './run-pwsh.js';
import { seed, uniqueVaultName } from './vault-fixtures.js';

/**
 * The process that runs PowerShell: the .NET tool's pwsh is a launcher whose child (dotnet
 * pwsh.dll) is the real host, and it is that one whose death the executable must notice.
 */
const parentOf = (pid: string | number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);

function powershellProcess(launcher: number): number {
  const tree = new Set([launcher]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        if (!tree.has(Number(entry)) && tree.has(parentOf(entry))) {
          tree.add(Number(entry));
          grew = true;
        }
      } catch {
        // gone
      }
    }
  }
  for (const pid of tree) {
    try {
      if (/pwsh(\.dll)?\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')) && readlinkSync(`/proc/${pid}/exe`) !== exePath()) {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (pid !== launcher && args.includes('pwsh.dll')) return pid;
      }
    } catch {
      // gone
    }
  }
  return launcher;
}

// A runbook that hits its time limit is killed with its whole PowerShell, no clean block, no
// finally. The executable must notice its host is gone at once, not only after it has read every
// request still buffered in its stdin pipe (it used to send some 97 more backups that way).
describe('PowerShell module: the host killed mid-pipeline', function () {
  this.timeout(60_000);
  let dir: string;
  afterEach(function () {
    sharedVault().faults.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of pwsh: no executable after 1 s, only the backups in flight complete, no partial or temp file', async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('kill');
    const names = Array.from({ length: 120 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    seed(vault, v, names);
    dir = tempDir('azkvb-killed-');
    const throttle = 4;
    const script = join(dir, 'pipeline.ps1');
    writeFileSync(
      script,
      `Import-Module ${psQuote(moduleManifestPath())}
$names = @(${names.map((n) => `'${n}'`).join(',')})
$names | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } |
  Backup-AzKeyVaultSecret -OutputFile ${psQuote(join(dir, 'out'))} -ThrottleLimit ${throttle} |
  ForEach-Object { [Console]::Out.WriteLine('got ' + $_); [Console]::Out.Flush() }
`,
    );
    mkdirSync(join(dir, 'out'));
    vault.faults.setLatency(300);
    const before = new Set(pidsRunning(exePath()));
    const run = startProcess(pwshPath(), ['-NoProfile', '-NonInteractive', '-File', script], { env: { ...process.env, ...vault.env(), NO_COLOR: '1' }, stdin: 'ignore', timeoutMs: 50_000 });
    const child = run.child;
    const firstResult = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => {
        if (run.stdout().includes('got ')) resolve();
      });
      void run.done.then((end) => reject(new Error(`pwsh ended (${end.code}) before any result: ${end.stderr}`)), reject);
    });
    await firstResult;
    const host = powershellProcess(child.pid!);
    // Its children only: other tests on the machine may run the same executable meanwhile.
    const ours = pidsRunning(exePath()).filter((pid) => !before.has(pid) && parentOf(pid) === host);
    assert.equal(ours.length, 1, 'one executable serves the pipeline');
    const killedAt = Date.now();
    process.kill(host, 'SIGKILL');

    let goneAfterMs = Number.POSITIVE_INFINITY;
    while (Date.now() - killedAt < 3_000) {
      if (!pidsRunning(exePath()).includes(ours[0]!)) {
        goneAfterMs = Date.now() - killedAt;
        break;
      }
      await sleep(20);
    }
    assert.ok(goneAfterMs <= 1_000, `the executable is gone within 1 s of its host (${goneAfterMs} ms)`);

    await sleep(1_000);
    const backups = vault.requests.filter((r) => r.vault === v && r.operation === 'backup' && r.authorized);
    const startedAfterKill = backups.filter((r) => r.startedAt > killedAt).length;
    // At most the slots that free up before the watchdog's next look (one round of --concurrency).
    assert.ok(startedAfterKill <= throttle, `${startedAfterKill} backups were started after the kill`);
    assert.ok(backups.length < names.length / 2, `the queued rest was dropped (${backups.length} of ${names.length} sent)`);
    const files = readdirSync(join(dir, 'out'));
    for (const file of files) {
      assert.match(file, new RegExp(`^${v}-k\\d{3}-\\d+(\\.\\d+)?$`), `${file} is a finished backup, not a temp file`);
      const name = file.split('-')[1]!;
      assert.deepEqual(readFileSync(join(dir, 'out', file)), vault.lastBackupBlob(v, name), `${file} holds the whole backup`);
    }
  });
});
