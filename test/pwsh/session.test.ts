import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedVault } from '../support/hooks.js';
import type { LocalVault, RequestRecord } from '../support/local-vault/index.js';
import { exeName, pwshPath, repoRoot, runtimeId } from '../support/paths.js';
import { startProcess } from '../support/spawn.js';
import { startBearerRecorder } from './bearer-recorder.js';
import { pidsRunning, PUBLIC_CLOUD, standInAzAccounts, standInManifest } from './fixtures/az-accounts.js';
import { moduleManifestPath, psQuote, runPwsh, useCleanups, type PwshRun } from './run-pwsh.js';
import { assertBackupFile, filesIn, seed, uniqueVaultName } from './vault-fixtures.js';

// One session executable per runspace (docs/protocol.md): started by the first call, reused by every
// later call and pipeline, replaced when the environment changes or it ended by itself, ended with
// the module, the host, or (for a closed runspace) by the next call anywhere in the process.

const MODULE = moduleManifestPath();
/** The file the module starts, as /proc/<pid>/exe names it. */
const MODULE_EXE = realpathSync(join(repoRoot(), 'bin', runtimeId(), exeName()));

/**
 * PowerShell helpers every script here starts with. Step runs one call with every stream merged
 * and outputs what it did as one object: its outputs, its errors (a terminating one caught), its
 * -Verbose lines, the pid of each executable it started ("ready (…, process N)"), the executables
 * the host has as children afterwards, and when it started and ended (epoch ms, the clock of the
 * vault's request log) so the log can be split by call.
 */
const PRELUDE = String.raw`
$exePath = ${psQuote(MODULE_EXE)}
function Get-Now { [System.DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() }
function Get-ExePid {
    @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID -and $_.Path -eq $exePath } | ForEach-Object { $_.Id } | Sort-Object)
}
function Test-Running([int]$Id) {
    # Gone, or a zombie not reaped yet: either way it runs no more.
    $stat = "/proc/$Id/stat"
    try { $text = [System.IO.File]::ReadAllText($stat) } catch { return $false }
    $state = $text.Substring($text.LastIndexOf(')') + 2, 1)
    return $state -ne 'Z' -and $state -ne 'X'
}
function Wait-Gone([int[]]$Id, [int]$TimeoutMs = 1000) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    do {
        if (@($Id | Where-Object { Test-Running $_ }).Count -eq 0) { return $true }
        Start-Sleep -Milliseconds 20
    } while ($watch.ElapsedMilliseconds -le $TimeoutMs)
    return $false
}
function Get-ReadyPid($Messages) {
    @($Messages | ForEach-Object { if ($_ -match 'ready \(protocol \d+, process (\d+)\)') { [int]$Matches[1] } })
}
function Step([string]$Label, [scriptblock]$Call) {
    $outputs = [System.Collections.Generic.List[object]]::new()
    $errors = [System.Collections.Generic.List[object]]::new()
    $verbose = [System.Collections.Generic.List[string]]::new()
    $startedAt = Get-Now
    try {
        & $Call *>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) { $errors.Add([ordered]@{ fqid = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); terminating = $false; message = $_.Exception.Message }) }
            elseif ($_ -is [System.Management.Automation.VerboseRecord]) { $verbose.Add($_.Message) }
            elseif ($_ -is [System.Management.Automation.InformationalRecord] -or $_ -is [System.Management.Automation.InformationRecord]) { }
            else { $outputs.Add($_) }
        }
    }
    catch { $errors.Add([ordered]@{ fqid = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); terminating = $true; message = $_.Exception.Message }) }
    $at = Get-Now
    [pscustomobject]@{ label = $Label; outputs = @($outputs); errors = @($errors); verbose = @($verbose); ready = @(Get-ReadyPid $verbose); pids = @(Get-ExePid); startedAt = $startedAt; at = $at }
}
`;

interface StepError {
  fqid: string;
  category: string;
  terminating: boolean;
  message: string;
}
interface Step {
  label: string;
  outputs: unknown[];
  errors: StepError[];
  verbose: string[];
  ready: number[];
  pids: number[];
  startedAt: number;
  at: number;
}

/** The Step objects of a run, by label; any other output is returned as `other`. */
function stepsOf(run: PwshRun): { steps: Record<string, Step>; other: Record<string, unknown>[] } {
  assert.deepEqual(run.errors, [], `no error outside the steps: ${run.errors.map((e) => e.message).join('\n')}\n${run.stderr}`);
  const steps: Record<string, Step> = {};
  const other: Record<string, unknown>[] = [];
  for (const o of run.outputs as Record<string, unknown>[]) {
    if (o && typeof o === 'object' && typeof o['label'] === 'string' && 'ready' in o) steps[o['label'] as string] = o as unknown as Step;
    else other.push(o);
  }
  return { steps, other };
}

function step(steps: Record<string, Step>, label: string): Step {
  const s = steps[label];
  assert.ok(s, `step ${label} ran`);
  return s;
}

/** The step succeeded with exactly these output paths. */
function assertOk(s: Step, paths: string[]): void {
  assert.deepEqual(s.errors, [], `${s.label}: no error (${s.errors.map((e) => e.message).join('; ')})`);
  assert.deepEqual(s.outputs, paths, `${s.label}: the paths written`);
}

function replacedBecause(s: Step, oldPid: number): string[] {
  const prefix = `Starting a new az-keyvault-backup session executable: the previous one (process ${oldPid}) is not used again because `;
  return s.verbose.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

function secretOf(r: RequestRecord | { url: string }): string {
  const parts = new URL(r.url, 'https://local').pathname.split('/');
  return decodeURIComponent(parts[3] ?? '');
}

const item = (v: string, name: string): string => `[pscustomobject]@{ VaultName = '${v}'; Name = '${name}' }`;

describe('PowerShell module: one session executable per runspace', function () {
  this.timeout(60_000);
  let vault: LocalVault;
  const { defer, dir } = useCleanups();
  before(function () {
    vault = sharedVault();
  });
  beforeEach(function () {
    vault.faults.clear();
    vault.clearRequests();
  });
  afterEach(function () {
    vault.faults.clear();
  });

  it('two calls and a pipeline in one PowerShell share one executable, and only the first call signs in', async function () {
    const v = uniqueVaultName('re');
    seed(vault, v, ['r1', 'r2', 'p1', 'p2', 'p3']);
    const out = dir('azkvb-reuse-');
    const run = await runPwsh(
      `${PRELUDE}
      Step 'first' { Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'r1' -OutputFile ${psQuote(join(out, 'r1.blob'))} -Verbose }
      Step 'second' { Backup-AzKeyVaultSecret '${v}' 'r2' -OutputFile ${psQuote(join(out, 'r2.blob'))} -Verbose }
      Step 'pipeline' { 'p1', 'p2', 'p3' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Verbose }`,
      { env: vault.env(), module: MODULE },
    );
    const { steps } = stepsOf(run);
    const first = step(steps, 'first');
    const second = step(steps, 'second');
    const pipeline = step(steps, 'pipeline');

    assertOk(first, [join(out, 'r1.blob')]);
    assertOk(second, [join(out, 'r2.blob')]);
    assert.deepEqual(pipeline.errors, []);
    assert.equal(pipeline.outputs.length, 3);
    assertBackupFile(vault, v, 'r1', join(out, 'r1.blob'));
    assertBackupFile(vault, v, 'r2', join(out, 'r2.blob'));
    (pipeline.outputs as string[]).forEach((path, i) => assertBackupFile(vault, v, `p${i + 1}`, path));

    assert.equal(first.ready.length, 1, 'the first call started the executable');
    const [pid] = first.ready;
    assert.deepEqual(first.pids, [pid], 'and it stays after the call');
    assert.deepEqual([second.ready, pipeline.ready], [[], []], 'no later call started one');
    assert.deepEqual([second.pids, pipeline.pids], [[pid], [pid]], 'the same process served every call');

    // Sign-in: one managed-identity token and one 401 challenge, both during the first call.
    const tokens = vault.requests.filter((r) => r.operation === 'token');
    assert.ok(tokens.length >= 1 && tokens.every((r) => r.status === 200 && r.startedAt <= first.at), 'the first call got the token');
    assert.equal(tokens.filter((r) => r.startedAt > first.at).length, 0, 'no later call asked the identity endpoint again');
    const backups = vault.requests.filter((r) => r.vault === v && r.operation === 'backup');
    const challenges = backups.filter((r) => r.status === 401);
    assert.equal(challenges.length, 1, 'one 401 challenge in the whole session');
    assert.equal(secretOf(challenges[0]!), 'r1', 'met by the first call');
    const later = backups.filter((r) => r.startedAt > first.at);
    assert.deepEqual(later.map(secretOf).sort(), ['p1', 'p2', 'p3', 'r2'], 'one request per later backup');
    assert.ok(later.every((r) => r.status === 200 && r.authorized), 'each with the token it already had');
  });

  it('two Az contexts in one session never share a token: each call reaches the vault with its own, and each context is asked once', async function () {
    const v = uniqueVaultName('cx');
    seed(vault, v, ['a1', 'b1', 'a2', 'b2']);
    const out = dir('azkvb-contexts-');
    const recorder = await startBearerRecorder(vault);
    defer(() => recorder.close());
    // Both accounts are in the vault's tenant and the stand-in hands out its tokens in order: the
    // first token asked for is tA, every later one tB. Asking per call would give context A tB.
    const tA = vault.issueToken();
    const tB = vault.issueToken();
    const az = standInAzAccounts({
      shape: '5',
      context: { account: 'alice@contoso.example', tenantId: vault.tenantId, subscriptionId: '11111111-1111-1111-1111-111111111111', environment: PUBLIC_CLOUD },
      tokens: [
        { tenantId: vault.tenantId, resource: PUBLIC_CLOUD.resourceId, ...tA },
        { tenantId: vault.tenantId, resource: PUBLIC_CLOUD.resourceId, ...tB },
      ],
    });
    defer(az.dispose);
    const file = (name: string) => psQuote(join(out, `${name}.blob`));
    const run = await runPwsh(
      `${PRELUDE}
      Import-Module ${psQuote(standInManifest())}
      $contextB = [pscustomobject]@{
          Name = '22222222-2222-2222-2222-222222222222 - bob@fabrikam.example'
          Account = [pscustomobject]@{ Id = 'bob@fabrikam.example'; Type = 'User' }
          Tenant = [pscustomobject]@{ Id = '${vault.tenantId}' }
          Environment = [pscustomobject]@{ Name = 'AzureCloud'; AzureKeyVaultDnsSuffix = 'vault.azure.net'; AzureKeyVaultServiceEndpointResourceId = 'https://vault.azure.net' }
      }
      Step 'A1' { Backup-AzKeyVaultSecret '${v}' 'a1' -OutputFile ${file('a1')} -Verbose }
      Step 'B1' { Backup-AzKeyVaultSecret '${v}' 'b1' -OutputFile ${file('b1')} -DefaultProfile $contextB -Verbose }
      Step 'A2' { Backup-AzKeyVaultSecret '${v}' 'a2' -OutputFile ${file('a2')} -Verbose }
      Step 'B2' { Backup-AzKeyVaultSecret '${v}' 'b2' -OutputFile ${file('b2')} -DefaultProfile $contextB -Verbose }`,
      // No IDENTITY_*: a token from the module is the only way in.
      { env: { NODE_EXTRA_CA_CERTS: vault.caFile, AZ_KEYVAULT_BACKUP_VAULT_URL: recorder.vaultUrlTemplate, ...az.env }, module: MODULE },
    );
    const { steps } = stepsOf(run);
    for (const name of ['a1', 'b1', 'a2', 'b2']) {
      assertOk(step(steps, name.toUpperCase()), [join(out, `${name}.blob`)]);
      assertBackupFile(vault, v, name, join(out, `${name}.blob`));
    }
    const [pid] = step(steps, 'A1').ready;
    assert.ok(pid !== undefined, 'A1 started the executable');
    for (const label of ['B1', 'A2', 'B2']) {
      assert.deepEqual([step(steps, label).ready, step(steps, label).pids], [[], [pid]], `${label} ran in the same executable`);
    }

    const which = (bearer: string | null) => (bearer === tA.token ? 'tA' : bearer === tB.token ? 'tB' : bearer === null ? 'none' : 'other');
    const answered = recorder.records.filter((r) => r.url.includes('/backup') && r.status === 200).map((r) => `${secretOf(r)}:${which(r.bearer)}`);
    assert.deepEqual(answered, ['a1:tA', 'b1:tB', 'a2:tA', 'b2:tB'], "each backup carried its own context's token");
    const carried = recorder.records.filter((r) => r.bearer !== null).map((r) => `${secretOf(r)}:${which(r.bearer)}`);
    assert.ok(
      carried.every((c) => /^a\d:tA$|^b\d:tB$/.test(c)),
      `no request of one context carried the other's token: ${carried.join(', ')}`,
    );

    const asked = az.calls().filter((c) => c.command === 'Get-AzAccessToken').map((c) => c.defaultProfile ?? 'current context');
    assert.deepEqual(asked, ['current context', 'bob@fabrikam.example'], 'Get-AzAccessToken was asked once per context, not per call');
  });

  it('an environment change between calls starts a new executable that follows it: another vault address, a wrong IDENTITY_HEADER (AuthenticationFailed), the header restored', async function () {
    const v1 = uniqueVaultName('ea');
    const v2 = uniqueVaultName('eb');
    seed(vault, v1, ['s1', 's2', 's3', 's4']);
    seed(vault, v2, ['s2', 's3', 's4']);
    const out = dir('azkvb-env-');
    const file = (n: number) => psQuote(join(out, `${n}.blob`));
    const run = await runPwsh(
      `${PRELUDE}
      $goodHeader = $env:IDENTITY_HEADER
      Step 'start' { Backup-AzKeyVaultSecret '${v1}' 's1' -OutputFile ${file(1)} -Verbose }
      # An address without {vault}: every vault name goes to ${v2}.
      $env:AZ_KEYVAULT_BACKUP_VAULT_URL = '${vault.origin}/${v2}'
      Step 'url' { Backup-AzKeyVaultSecret '${v1}' 's2' -OutputFile ${file(2)} -Verbose }
      $env:IDENTITY_HEADER = 'not-the-identity-header'
      Step 'header' { Backup-AzKeyVaultSecret '${v1}' 's3' -OutputFile ${file(3)} -Verbose }
      $env:IDENTITY_HEADER = $goodHeader
      Step 'restored' { Backup-AzKeyVaultSecret '${v1}' 's4' -OutputFile ${file(4)} -Verbose }`,
      // PATH without az or pwsh: with the identity header wrong, nothing else can sign in either.
      { env: { ...vault.env(), PATH: '/usr/bin:/bin' }, module: MODULE },
    );
    const { steps } = stepsOf(run);
    const [start, url, header, restored] = ['start', 'url', 'header', 'restored'].map((l) => step(steps, l)) as [Step, Step, Step, Step];

    assertOk(start, [join(out, '1.blob')]);
    assertBackupFile(vault, v1, 's1', join(out, '1.blob'));
    assertOk(url, [join(out, '2.blob')]);
    assertBackupFile(vault, v2, 's2', join(out, '2.blob'));
    assert.deepEqual(
      vault.requests.filter((r) => r.operation === 'backup' && r.status === 200).map((r) => `${r.vault}/${r.name}`),
      [`${v1}/s1`, `${v2}/s2`, `${v2}/s4`],
      'the new address was followed from the call after the change',
    );
    assert.deepEqual(header.outputs, []);
    assert.deepEqual(
      header.errors.map((e) => [e.fqid, e.category, e.terminating]),
      [['AuthenticationFailed,Backup-AzKeyVaultSecret', 'AuthenticationError', true]],
      `the wrong header was used: ${header.errors.map((e) => e.message).join('; ')}`,
    );
    assertOk(restored, [join(out, '4.blob')]);
    assertBackupFile(vault, v2, 's4', join(out, '4.blob'));
    assert.deepEqual(filesIn(out), ['1.blob', '2.blob', '4.blob']);

    const pids = [start, url, header, restored].map((s) => {
      assert.equal(s.ready.length, 1, `${s.label} started its own executable`);
      return s.ready[0]!;
    });
    assert.equal(new Set(pids).size, 4, `four processes: ${pids.join(', ')}`);
    for (const [i, s] of [url, header, restored].entries()) {
      assert.deepEqual(replacedBecause(s, pids[i]!), ['the environment changed since it started.'], `${s.label} says why it did not reuse process ${pids[i]}`);
      assert.deepEqual(s.pids, [pids[i + 1]], `${s.label}: the replaced process is gone, only the new one runs`);
    }
  });

  it('with AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS=2 the executable ends by itself after 2 s without a call, and the next call starts a new one and says why', async function () {
    const v = uniqueVaultName('id');
    seed(vault, v, ['i1', 'i2']);
    const out = dir('azkvb-idle-');
    const run = await runPwsh(
      `${PRELUDE}
      Step 'first' { Backup-AzKeyVaultSecret '${v}' 'i1' -OutputFile ${psQuote(join(out, 'i1.blob'))} -Verbose }
      Start-Sleep -Milliseconds 3500
      [pscustomobject]@{ children = @(Get-ExePid) }
      Step 'second' { Backup-AzKeyVaultSecret '${v}' 'i2' -OutputFile ${psQuote(join(out, 'i2.blob'))} -Verbose }`,
      // Set before PowerShell starts, so before the first call.
      { env: { ...vault.env(), AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS: '2' }, module: MODULE },
    );
    const { steps, other } = stepsOf(run);
    const first = step(steps, 'first');
    const second = step(steps, 'second');
    assertOk(first, [join(out, 'i1.blob')]);
    assertOk(second, [join(out, 'i2.blob')]);
    assertBackupFile(vault, v, 'i1', join(out, 'i1.blob'));
    assertBackupFile(vault, v, 'i2', join(out, 'i2.blob'));
    assert.equal(first.ready.length, 1);
    const firstPid = first.ready[0]!;
    assert.deepEqual(first.pids, [firstPid], 'the executable outlives the call');
    assert.deepEqual(other, [{ children: [] }], 'it had exited by itself 3.5 s later');
    assert.equal(second.ready.length, 1, 'the next call started a new one');
    assert.notEqual(second.ready[0], firstPid);
    assert.deepEqual(replacedBecause(second, firstPid), ['it ended after 2 s without a call.']);
    assert.deepEqual(second.pids, second.ready);
  });

  it('with AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS=0 every call has an executable of its own, none left after it', async function () {
    const v = uniqueVaultName('iz');
    seed(vault, v, ['z1', 'z2', 'z3', 'z4']);
    const out = dir('azkvb-idle0-');
    const run = await runPwsh(
      `${PRELUDE}
      function Test-Left($s) { [pscustomobject]@{ after = $s.label; goneWithin1s = (Wait-Gone $s.ready 1000); children = @(Get-ExePid) } }
      $s = Step 'one' { Backup-AzKeyVaultSecret '${v}' 'z1' -OutputFile ${psQuote(join(out, 'z1.blob'))} -Verbose }; $s; Test-Left $s
      $s = Step 'two' { Backup-AzKeyVaultSecret '${v}' 'z2' -OutputFile ${psQuote(join(out, 'z2.blob'))} -Verbose }; $s; Test-Left $s
      $s = Step 'pipeline' { 'z3', 'z4' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Verbose }; $s; Test-Left $s`,
      { env: { ...vault.env(), AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS: '0' }, module: MODULE },
    );
    const { steps, other } = stepsOf(run);
    const all = ['one', 'two', 'pipeline'].map((l) => step(steps, l));
    assertOk(all[0]!, [join(out, 'z1.blob')]);
    assertOk(all[1]!, [join(out, 'z2.blob')]);
    assert.deepEqual(all[2]!.errors, []);
    assert.equal(all[2]!.outputs.length, 2);
    assertBackupFile(vault, v, 'z1', join(out, 'z1.blob'));
    assertBackupFile(vault, v, 'z2', join(out, 'z2.blob'));
    (all[2]!.outputs as string[]).forEach((path, i) => assertBackupFile(vault, v, `z${i + 3}`, path));
    const pids = all.map((s) => {
      assert.equal(s.ready.length, 1, `${s.label} started an executable`);
      return s.ready[0]!;
    });
    assert.equal(new Set(pids).size, 3, `a new process per call: ${pids.join(', ')}`);
    assert.deepEqual(other, ['one', 'two', 'pipeline'].map((after) => ({ after, goneWithin1s: true, children: [] })), 'none left after each call');
  });

  it('an AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS that is not 0..86400 is one terminating InvalidSessionSetting error, before any executable or request', async function () {
    const v = uniqueVaultName('ib');
    seed(vault, v, ['x1', 'x2', 'x3']);
    const out = dir('azkvb-idlebad-');
    const run = await runPwsh(
      `${PRELUDE}
      Step 'abc' { 'x1', 'x2' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} }
      $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = '86401'
      Step 'too long' { Backup-AzKeyVaultSecret '${v}' 'x1' -OutputFile ${psQuote(out)} }
      $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = '60'
      Step 'fixed' { Backup-AzKeyVaultSecret '${v}' 'x3' -OutputFile ${psQuote(join(out, 'x3.blob'))} }`,
      { env: { ...vault.env(), AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS: 'abc' }, module: MODULE },
    );
    const { steps } = stepsOf(run);
    for (const label of ['abc', 'too long']) {
      const s = step(steps, label);
      assert.deepEqual(s.outputs, []);
      assert.deepEqual(
        s.errors.map((e) => [e.fqid, e.category, e.terminating]),
        [['InvalidSessionSetting,Backup-AzKeyVaultSecret', 'InvalidArgument', true]],
        `${label}: one terminating error`,
      );
      assert.match(s.errors[0]!.message, /AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS/);
      assert.deepEqual([s.ready, s.pids], [[], []], `${label}: no executable started`);
    }
    assert.deepEqual(vault.requests.filter((r) => r.vault === v).map((r) => r.name), ['x3', 'x3'], 'only the call with a good setting reached the vault (challenge, backup)');
    assertOk(step(steps, 'fixed'), [join(out, 'x3.blob')]);
    assert.deepEqual(filesIn(out), ['x3.blob']);
  });

  it('Remove-Module and Import-Module -Force each end the session executable within 1 s; a call after re-importing starts a new one', async function () {
    const v = uniqueVaultName('rm');
    seed(vault, v, ['m1', 'm2', 'm3']);
    const out = dir('azkvb-remove-');
    const file = (name: string) => psQuote(join(out, `${name}.blob`));
    const run = await runPwsh(
      `${PRELUDE}
      function Test-Ended([string]$After, [int[]]$Id) { [pscustomobject]@{ after = $After; goneWithin1s = (Wait-Gone $Id 1000); children = @(Get-ExePid) } }
      $s = Step 'first' { Backup-AzKeyVaultSecret '${v}' 'm1' -OutputFile ${file('m1')} -Verbose }; $s
      Remove-Module Az.KeyVault.Backup
      Test-Ended 'Remove-Module' $s.ready
      Import-Module ${psQuote(MODULE)}
      $s = Step 'reimported' { Backup-AzKeyVaultSecret '${v}' 'm2' -OutputFile ${file('m2')} -Verbose }; $s
      Import-Module ${psQuote(MODULE)} -Force
      Test-Ended 'Import-Module -Force' $s.ready
      $s = Step 'forced' { Backup-AzKeyVaultSecret '${v}' 'm3' -OutputFile ${file('m3')} -Verbose }; $s
      Remove-Module Az.KeyVault.Backup
      Test-Ended 'Remove-Module again' $s.ready`,
      { env: vault.env(), module: MODULE },
    );
    const { steps, other } = stepsOf(run);
    const all = ['first', 'reimported', 'forced'].map((l) => step(steps, l));
    for (const [i, s] of all.entries()) {
      assertOk(s, [join(out, `m${i + 1}.blob`)]);
      assertBackupFile(vault, v, `m${i + 1}`, join(out, `m${i + 1}.blob`));
      assert.equal(s.ready.length, 1, `${s.label} started an executable`);
      assert.deepEqual(s.pids, s.ready, `${s.label}: it runs after the call`);
    }
    assert.equal(new Set(all.map((s) => s.ready[0])).size, 3, 'a new process after each re-import');
    assert.deepEqual(
      other,
      ['Remove-Module', 'Import-Module -Force', 'Remove-Module again'].map((after) => ({ after, goneWithin1s: true, children: [] })),
      'no executable left after the module went',
    );
  });

  it('kill -9 of PowerShell in a long pipeline of a session that served an earlier call: the executable is gone within 1 s, only requests on the wire complete, no partial or temp file', async function () {
    const v = uniqueVaultName('kl');
    const names = Array.from({ length: 60 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    seed(vault, v, ['warm', ...names]);
    const work = dir('azkvb-kill-');
    const out = join(work, 'out');
    mkdirSync(out);
    const throttle = 4;
    const script = join(work, 'script.ps1');
    writeFileSync(
      script,
      `Import-Module ${psQuote(MODULE)}
[Console]::Out.WriteLine("host $PID"); [Console]::Out.Flush()
function Show($record) {
    if ($record -is [System.Management.Automation.VerboseRecord]) {
        if ($record.Message -match 'ready \\(protocol \\d+, process (\\d+)\\)') { [Console]::Out.WriteLine('ready ' + $Matches[1]); [Console]::Out.Flush() }
    }
    elseif ($record -is [string]) { [Console]::Out.WriteLine('got ' + $record); [Console]::Out.Flush() }
}
Backup-AzKeyVaultSecret '${v}' 'warm' -OutputFile ${psQuote(join(work, 'warm.blob'))} -Verbose 4>&1 | ForEach-Object { Show $_ }
[Console]::Out.WriteLine('warmed'); [Console]::Out.Flush()
$names = @(${names.map((n) => `'${n}'`).join(',')})
$names | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } |
  Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -ThrottleLimit ${throttle} -Verbose 4>&1 | ForEach-Object { Show $_ }
[Console]::Out.WriteLine('finished'); [Console]::Out.Flush()
`,
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? work,
      LANG: 'C.UTF-8',
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
      NO_COLOR: '1',
      ...vault.env(),
    };
    const run = startProcess(pwshPath(), ['-NoProfile', '-NonInteractive', '-File', script], { env, stdin: 'ignore', timeoutMs: 60_000 });
    const child = run.child;
    let host = 0;
    defer(() => {
      for (const pid of [host, child.pid ?? 0]) {
        try {
          if (pid > 0) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    const seen = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => {
        // A result of the long pipeline: a line 'got <out>/...' after 'warmed'.
        const after = run.stdout().split('warmed\n')[1];
        if (after !== undefined && after.includes(`got ${out}`)) resolve();
      });
      void run.done.then((end) => reject(new Error(`pwsh ended (${end.code}) before the pipeline gave a result:\n${end.stdout}\n${end.stderr}`)), reject);
    });
    vault.faults.setLatency(300);
    await seen;

    const stdout = run.stdout();
    const lines = stdout.split('\n');
    host = Number(/^host (\d+)$/m.exec(stdout)?.[1]);
    const ready = lines.filter((l) => l.startsWith('ready ')).map((l) => Number(l.slice(6)));
    assert.equal(ready.length, 1, `one executable was started, by the warm-up call: ${stdout}`);
    const session = ready[0]!;
    assert.ok(lines.indexOf(`ready ${session}`) < lines.indexOf('warmed'), 'before the pipeline began');
    assert.ok(pidsRunning(MODULE_EXE).includes(session), 'the session executable serves the pipeline');
    assert.ok(host > 0);

    const killedAt = Date.now();
    process.kill(host, 'SIGKILL');
    const atKill = vault.requests.filter((r) => r.vault === v && r.operation === 'backup' && r.name !== 'warm').map((r) => ({ ...r }));
    let goneAfterMs = Number.POSITIVE_INFINITY;
    while (Date.now() - killedAt < 3_000) {
      if (!pidsRunning(MODULE_EXE).includes(session)) {
        goneAfterMs = Date.now() - killedAt;
        break;
      }
      await sleep(20);
    }
    assert.ok(goneAfterMs <= 1_000, `the executable is gone within 1 s of its host (${goneAfterMs} ms)`);

    await sleep(1_200);
    const later = vault.requests.filter((r) => r.vault === v && r.operation === 'backup' && r.name !== 'warm');
    const onWire = new Set(atKill.filter((r) => r.status === 0).map((r) => r.name));
    const newAfterKill = later.slice(atKill.length);
    // At most one round of --concurrency may have been in the executable's hands before it read EOF.
    assert.ok(newAfterKill.length <= throttle, `${newAfterKill.length} backups started after the kill: ${newAfterKill.map((r) => r.name).join(', ')}`);
    assert.ok(later.length < names.length / 2, `the queued rest was dropped (${later.length} of ${names.length} sent)`);
    const completedLater = later.filter((r, i) => r.status !== 0 && (i >= atKill.length || atKill[i]!.status === 0)).map((r) => r.name);
    assert.ok(
      completedLater.every((n) => onWire.has(n) || newAfterKill.some((r) => r.name === n)),
      `only requests on the wire at the kill were answered after it: ${completedLater.join(', ')}`,
    );
    const files = filesIn(out);
    for (const f of files) {
      assert.ok(!f.startsWith('.'), `${f} is not a temporary file`);
      const match = new RegExp(`^${v}-(k\\d{2})-\\d{9,}(\\.\\d+)?$`).exec(f);
      assert.ok(match, `${f} is a finished backup`);
      assert.deepEqual(readFileSync(join(out, f)), vault.lastBackupBlob(v, match[1]!), `${f} holds the whole backup`);
    }
    const answered = later.filter((r) => r.status === 200).length;
    assert.ok(files.length >= 1 && files.length <= answered, `${files.length} files for ${answered} answered backups`);
  });

  /** Runs `stopped` (a pipeline over 20 slow items that is ended early) and then a single call in one PowerShell. */
  async function stoppedThenNext(stopped: (items: string, out: string) => string): Promise<{ stop: Step; next: Step; v: string; out: string; nextFile: string; firstSeen: number }> {
    const v = uniqueVaultName('st');
    const names = Array.from({ length: 20 }, (_, i) => `s${i}`);
    seed(vault, v, [...names, 'next']);
    const out = dir('azkvb-stop-');
    const nextDir = dir('azkvb-next-');
    const nextFile = join(nextDir, 'next.blob');
    vault.faults.setLatency(300);
    const run = await runPwsh(
      `${PRELUDE}
      $items = @(${names.map((n) => item(v, n)).join(', ')})
      $script:firstSeen = 0
      Step 'stop' { ${stopped('$items', psQuote(out))} }
      Step 'next' { Backup-AzKeyVaultSecret '${v}' 'next' -OutputFile ${psQuote(nextFile)} -Verbose }
      [pscustomobject]@{ firstSeen = $script:firstSeen }`,
      { env: vault.env(), module: MODULE },
    );
    const { steps, other } = stepsOf(run);
    return { stop: step(steps, 'stop'), next: step(steps, 'next'), v, out, nextFile, firstSeen: Number(other[0]?.['firstSeen']) };
  }

  function assertStoppedCleanly(r: { stop: Step; next: Step; v: string; out: string; nextFile: string; firstSeen: number }): void {
    const { stop, next, v, out, nextFile, firstSeen } = r;
    assert.equal(stop.ready.length, 1, 'the stopped pipeline started the session');
    const pid = stop.ready[0]!;
    assert.deepEqual(stop.pids, [pid], 'the session stays after the stop');
    const slow = vault.requests.filter((q) => q.vault === v && q.operation === 'backup' && q.name !== 'next');
    assert.ok(firstSeen > 0, 'the first result reached the downstream command');
    assert.deepEqual(slow.filter((q) => q.startedAt > stop.at).map((q) => q.name), [], 'no backup of the stopped pipeline started after the stop');
    const inFlight = slow.filter((q) => q.startedAt >= firstSeen).map((q) => q.name);
    assert.ok(inFlight.length <= 3, `at most -ThrottleLimit backups started between the first result and the stop: ${inFlight.join(', ')}`);
    assert.ok(slow.length < 20, `the rest was never sent (${slow.length} of 20)`);
    const files = filesIn(out);
    assert.ok(files.length >= 1, 'the first result was written');
    for (const f of files) {
      assert.ok(!f.startsWith('.'), `${f} is not a temporary file`);
      const match = new RegExp(`^${v}-(s\\d+)-\\d{9,}(\\.\\d+)?$`).exec(f);
      assert.ok(match, `${f} is a finished backup`);
      assertBackupFile(vault, v, match[1]!, join(out, f));
    }

    assertOk(next, [nextFile]);
    assertBackupFile(vault, v, 'next', nextFile);
    assert.deepEqual(next.ready, [], 'the next call started no executable');
    assert.deepEqual(next.pids, [pid], 'the same process served it');
    assert.deepEqual(replacedBecause(next, pid), []);
  }

  it('Select-Object -First 1 over many slow items stops the pipeline: nothing more starts, no temp file, and the same executable serves the next call', async function () {
    const r = await stoppedThenNext(
      (items, out) =>
        `${items} | Backup-AzKeyVaultSecret -OutputFile ${out} -ThrottleLimit 3 -Verbose | ForEach-Object { if ($script:firstSeen -eq 0) { $script:firstSeen = Get-Now }; $_ } | Select-Object -First 1`,
    );
    assert.deepEqual(r.stop.errors, []);
    assert.equal(r.stop.outputs.length, 1);
    assert.match(String(r.stop.outputs[0]), new RegExp(`^${r.out}/${r.v}-s\\d+-`));
    assertStoppedCleanly(r);
  });

  it('a throw downstream stops the pipeline the same way, and the same executable serves the next call', async function () {
    const r = await stoppedThenNext(
      (items, out) =>
        `${items} | Backup-AzKeyVaultSecret -OutputFile ${out} -ThrottleLimit 3 -Verbose | ForEach-Object { $script:firstSeen = Get-Now; throw 'downstream failed' }`,
    );
    assert.deepEqual(r.stop.outputs, []);
    assert.equal(r.stop.errors.length, 1, 'one error: the throw');
    assertStoppedCleanly(r);
    // The downstream's own error reaches the caller, as through any other command (and Az's
    // compiled cmdlet): not wrapped as 'Exception calling "WriteObject"', which a typed catch misses.
    assert.deepEqual(
      r.stop.errors.map((e) => [e.fqid, e.message, e.terminating]),
      [['downstream failed', 'downstream failed', true]],
    );
  });

  /**
   * After `parallel` ran backups in other runspaces (its output: objects with runspace, paths and
   * the -Verbose lines of each item) and they were closed, one call in the main runspace.
   */
  async function parallelThenMain(names: string[], parallel: (v: string, out: string) => string) {
    const v = uniqueVaultName('pa');
    seed(vault, v, [...names, 'main']);
    const out = dir('azkvb-parallel-');
    vault.faults.setLatency(200);
    const run = await runPwsh(
      `${PRELUDE}
      $results = @(${parallel(v, psQuote(out))})
      foreach ($r in $results) { [pscustomobject]@{ name = $r.name; runspace = $r.runspace; paths = @($r.paths); errors = @($r.errors); ready = @(Get-ReadyPid $r.verbose) } }
      $orphans = @($results | ForEach-Object { Get-ReadyPid $_.verbose })
      [pscustomobject]@{ when = 'closed'; running = @($orphans | Where-Object { Test-Running $_ }) }
      $main = Step 'main' { Backup-AzKeyVaultSecret '${v}' 'main' -OutputFile ${psQuote(join(out, 'main.blob'))} -Verbose }
      $main
      [pscustomobject]@{ when = 'after main'; goneWithin1s = (Wait-Gone $orphans 1000); running = @($orphans | Where-Object { Test-Running $_ }); children = @(Get-ExePid) }`,
      { env: vault.env(), module: MODULE },
    );
    const { steps, other } = stepsOf(run);
    type Item = { name: string; runspace: string; paths: string[]; errors: string[]; ready: number[] };
    const items = other.filter((o) => 'runspace' in o) as unknown as Item[];
    const closed = other.find((o) => o['when'] === 'closed') as { running: number[] } | undefined;
    const afterMain = other.find((o) => o['when'] === 'after main') as { goneWithin1s: boolean; running: number[]; children: number[] } | undefined;
    assert.ok(closed && afterMain, JSON.stringify(other));

    assert.deepEqual(items.map((i) => i.name).sort(), [...names].sort());
    for (const i of items) {
      assert.deepEqual(i.errors, [], `${i.name}: no error`);
      assert.deepEqual(i.paths, [join(out, `${i.name}.blob`)], `${i.name}: its file`);
      assertBackupFile(vault, v, i.name, join(out, `${i.name}.blob`));
    }
    const byRunspace = new Map<string, number[]>();
    for (const i of items) byRunspace.set(i.runspace, [...(byRunspace.get(i.runspace) ?? []), ...i.ready]);
    assert.ok(byRunspace.size >= 2, `the items ran in ${byRunspace.size} runspaces`);
    for (const [runspace, ready] of byRunspace) assert.equal(ready.length, 1, `runspace ${runspace} started exactly one executable for its items: ${ready.join(', ')}`);
    const orphans = [...byRunspace.values()].map((r) => r[0]!);
    assert.equal(new Set(orphans).size, byRunspace.size, `each runspace had its own executable: ${orphans.join(', ')}`);
    // Nothing ends them while PowerShell runs on: their runspaces cannot (they are closed).
    assert.deepEqual(closed.running.sort(), [...orphans].sort(), 'their executables outlived their closed runspaces');

    const main = step(steps, 'main');
    assertOk(main, [join(out, 'main.blob')]);
    assertBackupFile(vault, v, 'main', join(out, 'main.blob'));
    assert.equal(main.ready.length, 1, 'the main runspace started its own executable');
    assert.ok(!orphans.includes(main.ready[0]!));
    assert.deepEqual(afterMain, { when: 'after main', goneWithin1s: true, running: [], children: main.ready }, "the main runspace's next call ended the closed runspaces' executables");
  }

  it('ForEach-Object -Parallel: each runspace backs up with an executable of its own, and the next call in the main runspace ends them once their runspaces are closed', async function () {
    const names = ['q1', 'q2', 'q3', 'q4', 'q5'];
    await parallelThenMain(
      names,
      (v, out) => `'${names.join("', '")}' | ForEach-Object -ThrottleLimit 3 -Parallel {
          Import-Module $using:MODULE_PATH
          $records = @(Backup-AzKeyVaultSecret -VaultName '${v}' -Name $_ -OutputFile (Join-Path ${out} "$_.blob") -Verbose *>&1)
          [pscustomobject]@{
              name = $_; runspace = [runspace]::DefaultRunspace.InstanceId.ToString()
              paths = @($records | Where-Object { $_ -is [string] })
              errors = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { [string]$_ })
              verbose = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message })
          }
      }`.replace('$using:MODULE_PATH', psQuote(MODULE)),
    );
  });

  it('Start-ThreadJob: jobs running at once each use an executable of their own, and the next call in the main runspace ends them once the jobs are done', async function () {
    const names = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6'];
    await parallelThenMain(
      names,
      (v, out) => `$jobs = foreach ($pair in @(@('j1', 'j2'), @('j3', 'j4'), @('j5', 'j6'))) {
          Start-ThreadJob -ArgumentList ${psQuote(MODULE)}, $pair -ScriptBlock {
              param($module, $pair)
              Import-Module $module
              foreach ($name in $pair) {
                  $records = @(Backup-AzKeyVaultSecret -VaultName '${v}' -Name $name -OutputFile (Join-Path ${out} "$name.blob") -Verbose *>&1)
                  [pscustomobject]@{
                      name = $name; runspace = [runspace]::DefaultRunspace.InstanceId.ToString()
                      paths = @($records | Where-Object { $_ -is [string] })
                      errors = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { [string]$_ })
                      verbose = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message })
                  }
              }
          }
      }
      $jobs | Wait-Job | Receive-Job
      $jobs | Remove-Job`,
    );
  });
});
