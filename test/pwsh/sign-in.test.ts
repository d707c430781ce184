import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { startConnectProxy, type ConnectProxy } from '../support/local-vault/connect-proxy.js';
import { startLocalVault, type LocalVault } from '../support/local-vault/index.js';
import { exePath } from '../support/paths.js';
import {
  CHINA_CLOUD,
  pidsRunning,
  processesExposing,
  PUBLIC_CLOUD,
  standInAzAccounts,
  standInManifest,
  type StandInContext,
} from './fixtures/az-accounts.js';
import { psQuote, runPwsh, useCleanups, type PwshRun } from './run-pwsh.js';
import { assertBackupFile, backedUp, seed, uniqueVaultName } from './vault-fixtures.js';

// Each test gets its own local vault (own tenant, own token key), so a token that works can only
// have come from where the test says, and latency can be set without slowing other suites.
describe('PowerShell module: signing in like Az', function () {
  this.timeout(60_000);
  let vault: LocalVault;
  const { defer, dir } = useCleanups();

  beforeEach(async function () {
    vault = await startLocalVault();
    defer(() => vault.close());
  });

  /** What the executable needs to reach the local vault; no IDENTITY_ENDPOINT, so only a token from the module can work. */
  const vaultOnly = (): Record<string, string> => ({ NODE_EXTRA_CA_CERTS: vault.caFile, AZ_KEYVAULT_BACKUP_VAULT_URL: vault.vaultUrlTemplate });
  const context = (over: Partial<StandInContext> = {}): StandInContext => ({
    account: 'alice@contoso.example',
    tenantId: vault.tenantId,
    subscriptionId: randomUUID(),
    environment: PUBLIC_CLOUD,
    ...over,
  });
  const tokenFor = (tenantId: string, opts: { resource?: string; expiresInSeconds?: number } = {}) => {
    const resource = opts.resource ?? PUBLIC_CLOUD.resourceId;
    const issued = vault.issueToken({ expiresInSeconds: opts.expiresInSeconds ?? 3600, audience: resource });
    return { tenantId, resource, ...issued };
  };
  const assertNoToken = (run: PwshRun, token: string): void => {
    for (const [stream, lines] of Object.entries({ verbose: run.verbose, debug: run.debug, warnings: run.warnings, host: [run.hostOutput], stderr: [run.stderr] })) {
      assert.ok(!lines.some((l) => l.includes(token)), `the token is not in the ${stream} output`);
    }
  };

  it('takes the token from the Az context (Az.Accounts 4.x: a string) over stdin only: never in any argv, environment or -Verbose/-Debug output', async function () {
    const v = uniqueVaultName('si');
    seed(vault, v, ['a1', 'a2', 'a3']);
    const out = dir('azkvb-signin-');
    const issued = tokenFor(vault.tenantId);
    const az = standInAzAccounts({ shape: '4', context: context(), tokens: [issued] });
    defer(az.dispose);
    // Slow answers keep the executable alive long enough to read its /proc entries.
    vault.faults.setLatency(400);

    const seen = { exe: new Set<number>(), exposed: [] as { pid: number; where: string }[] };
    const watch = setInterval(() => {
      for (const pid of pidsRunning(exePath())) seen.exe.add(pid);
      seen.exposed.push(...processesExposing(issued.token));
    }, 50);
    let run: PwshRun;
    try {
      run = await runPwsh(
        `Import-Module ${psQuote(standInManifest())}
        'a1', 'a2', 'a3' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } |
          Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Verbose -Debug`,
        { env: { ...vaultOnly(), ...az.env } },
      );
    } finally {
      clearInterval(watch);
    }

    assert.deepEqual(run.errors, []);
    assert.equal(run.outputs.length, 3);
    (run.outputs as string[]).forEach((path, i) => assertBackupFile(vault, v, `a${i + 1}`, path));
    assert.ok(seen.exe.size > 0, 'the executable was seen running, so its /proc entries were read');
    assert.deepEqual(seen.exposed, [], 'no process had the token in its command line or environment');
    assertNoToken(run, issued.token);
    assert.ok(run.debug.some((l) => l.includes('"type":"token"') && l.includes('"token":"***"')), '-Debug shows the token message, masked');
    assert.ok(
      run.debug.some((l) => l.includes('"type":"token"') && l.includes('"resource":"https://vault.azure.net"')),
      'the token message names the resource the token was issued for',
    );
    assert.ok(run.verbose.some((l) => l.includes("Signing in with the Az context: account 'alice@contoso.example'")));

    const tokenCalls = az.calls().filter((c) => c.command === 'Get-AzAccessToken');
    assert.equal(tokenCalls.length, 1, 'one token for the whole pipeline');
    assert.equal(tokenCalls[0]?.resourceUrl, 'https://vault.azure.net');
    assert.equal(tokenCalls[0]?.warningAction, 'SilentlyContinue', "Az's breaking-change warning about Token does not reach the user");
    assert.equal(vault.requests.filter((r) => r.operation === 'token').length, 0, 'no managed-identity or authority request');
    assert.ok(vault.requests.filter((r) => r.operation === 'backup' && r.status === 200).every((r) => r.authorized));
  });

  it('uses -DefaultProfile (Az.Accounts 5.x: a SecureString) even with no current context, and passes it on to Get-AzAccessToken', async function () {
    const v = uniqueVaultName('dp');
    seed(vault, v, ['p1']);
    const out = dir('azkvb-profile-');
    const az = standInAzAccounts({ shape: '5', context: null, tokens: [tokenFor(vault.tenantId)] });
    defer(az.dispose);
    const run = await runPwsh(
      `Import-Module ${psQuote(standInManifest())}
      $ctx = [pscustomobject]@{
        Account = [pscustomobject]@{ Id = 'runbook-sp' }; Tenant = [pscustomobject]@{ Id = '${vault.tenantId}' }
        Environment = [pscustomobject]@{ AzureKeyVaultDnsSuffix = 'vault.azure.net'; AzureKeyVaultServiceEndpointResourceId = 'https://vault.azure.net' }
      }
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'p1' -OutputFile ${psQuote(join(out, 'p1.blob'))} -AzContext ([pscustomobject]@{ DefaultContext = $ctx })`,
      { env: { ...vaultOnly(), ...az.env } },
    );
    assert.deepEqual(run.errors, []);
    assertBackupFile(vault, v, 'p1', join(out, 'p1.blob'));
    const calls = az.calls();
    assert.deepEqual(calls.map((c) => c.command), ['Get-AzAccessToken'], 'Get-AzContext is not consulted when a profile is given');
    assert.equal(calls[0]?.defaultProfile, 'runbook-sp');
  });

  it("asks the Az context for the tenant the vault's challenge names when it differs from the context's", async function () {
    const v = uniqueVaultName('tn');
    seed(vault, v, ['t1', 't2']);
    const out = dir('azkvb-tenant-');
    const home = randomUUID();
    const az = standInAzAccounts({
      shape: '5',
      context: context({ tenantId: home }),
      tokens: [
        // The home tenant's token is not one this vault accepts: only the vault tenant's token can work.
        { tenantId: home, resource: PUBLIC_CLOUD.resourceId, token: 'home.tenant.token', expiresOn: Math.floor(Date.now() / 1000) + 3600 },
        tokenFor(vault.tenantId),
      ],
    });
    defer(az.dispose);
    const run = await runPwsh(
      `Import-Module ${psQuote(standInManifest())}
      't1', 't2' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Debug`,
      { env: { ...vaultOnly(), ...az.env } },
    );
    assert.deepEqual(run.errors, []);
    (run.outputs as string[]).forEach((path, i) => assertBackupFile(vault, v, `t${i + 1}`, path));
    assert.ok(run.debug.some((l) => /"type":"tokenRequest","context":"az\d+","tenantId":"/.test(l) && l.includes(`"tenantId":"${vault.tenantId}"`)), 'the executable asked the context for the challenge tenant');
    const tenants = az.calls().filter((c) => c.command === 'Get-AzAccessToken').map((c) => c.tenantId ?? '');
    assert.deepEqual(tenants, [vault.tenantId], 'one token, for the vault tenant the challenge named, shared by both items');
  });

  it('asks the Az context again when its token is about to expire', async function () {
    const v = uniqueVaultName('ex');
    seed(vault, v, ['e1']);
    const out = dir('azkvb-expiry-');
    const az = standInAzAccounts({
      shape: '4',
      context: context(),
      // The first token is inside the executable's 2-minute margin, the second is fresh.
      tokens: [tokenFor(vault.tenantId, { expiresInSeconds: 90 }), tokenFor(vault.tenantId)],
    });
    defer(az.dispose);
    const run = await runPwsh(
      `Import-Module ${psQuote(standInManifest())}
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'e1' -OutputFile ${psQuote(join(out, 'e1.blob'))} -Debug`,
      { env: { ...vaultOnly(), ...az.env } },
    );
    assert.deepEqual(run.errors, []);
    assertBackupFile(vault, v, 'e1', join(out, 'e1.blob'));
    assert.ok(run.debug.some((l) => l.includes('"type":"tokenRequest"')), 'the executable asked for a fresh token');
    assert.equal(az.calls().filter((c) => c.command === 'Get-AzAccessToken').length, 2);
  });

  it('an expiry it cannot read counts as well over the refresh margin: one token for the pipeline, not one per secret', async function () {
    const v = uniqueVaultName('xo');
    seed(vault, v, ['x1', 'x2', 'x3']);
    const out = dir('azkvb-expiry-text-');
    const az = standInAzAccounts({ shape: '4', context: context(), tokens: [{ ...tokenFor(vault.tenantId), expiresOnShape: 'text' }] });
    defer(az.dispose);
    const started = Math.floor(Date.now() / 1000);
    const run = await runPwsh(
      `Import-Module ${psQuote(standInManifest())}
      'x1', 'x2', 'x3' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Debug`,
      { env: { ...vaultOnly(), ...az.env } },
    );
    assert.deepEqual(run.errors, []);
    (run.outputs as string[]).forEach((path, i) => assertBackupFile(vault, v, `x${i + 1}`, path));
    assert.equal(az.calls().filter((c) => c.command === 'Get-AzAccessToken').length, 1, 'no renewal before every item');
    const sent = run.debug.filter((l) => l.includes('"type":"token"')).map((l) => Number(/"expiresOn":(\d+)/.exec(l)?.[1]));
    assert.equal(sent.length, 1);
    assert.ok(sent[0]! - started > 30 * 60 && sent[0]! - started < 60 * 60, `assumed lifetime ${sent[0]! - started} s: longer than the refresh margin, shorter than a token's hour`);
  });

  it('signs in with the managed identity of IDENTITY_ENDPOINT/IDENTITY_HEADER when there is no Az at all (the runbook case)', async function () {
    const v = uniqueVaultName('mi');
    seed(vault, v, ['m1', 'm2']);
    const out = dir('azkvb-mi-');
    const run = await runPwsh(
      `if (Get-Module -ListAvailable Az.Accounts) { throw 'this test needs a machine without Az.Accounts' }
      'm1', 'm2' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -Verbose`,
      { env: vault.env() },
    );
    assert.deepEqual(run.errors, []);
    assert.deepEqual(backedUp(vault, v).sort(), ['m1', 'm2']);
    assert.ok(run.verbose.some((l) => l.includes('Az.Accounts is not loaded')));
    const tokens = vault.requests.filter((r) => r.operation === 'token');
    assert.ok(tokens.length >= 1 && tokens.every((r) => r.authorized && r.status === 200), 'the identity endpoint gave the token');
  });

  it('with no credential at all ends the pipeline with ONE AuthenticationFailed error that says what was tried and what to do, quickly', async function () {
    const v = uniqueVaultName('nc');
    seed(vault, v, ['n1', 'n2', 'n3', 'n4', 'n5']);
    const out = dir('azkvb-nocred-');
    const started = Date.now();
    // PATH without az or pwsh: the Azure CLI and Azure PowerShell credentials find nothing to run.
    const run = await runPwsh(
      `'n1', 'n2', 'n3', 'n4', 'n5' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } |
        Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)} -ErrorAction Continue`,
      { env: { ...vaultOnly(), PATH: '/usr/bin:/bin' } },
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`      (no credential: the whole pwsh run took ${seconds.toFixed(1)} s)`);
    assert.deepEqual(run.outputs, []);
    assert.equal(run.errors.length, 1, run.errors.map((e) => e.message).join('\n'));
    if (process.env['AZKVB_SHOW_AUTH_ERROR']) console.log(run.errors[0]?.message, run.verbose);
    const [error] = run.errors;
    assert.equal(error?.fqid, 'AuthenticationFailed,Backup-AzKeyVaultSecret');
    assert.equal(error?.category, 'AuthenticationError');
    for (const hint of ['managed identity', 'Azure CLI', 'Connect-AzAccount', 'az login']) assert.ok(error?.message.includes(hint), `the message mentions ${hint}`);
    assert.ok(!/\n\s+at /.test(error?.message ?? ''), 'no stack');
    assert.equal(backedUp(vault, v).length, 0);
    assert.ok(seconds < 20, `done in ${seconds} s`);
  });

  it("reaches the vault of the context's cloud (vault.azure.cn) with that cloud's token, the challenge's resource check on", async function () {
    const v = uniqueVaultName('cn');
    seed(vault, v, ['c1']);
    const out = dir('azkvb-china-');
    const proxy: ConnectProxy = await startConnectProxy(Number(new URL(vault.origin).port));
    defer(() => proxy.close());
    const az = standInAzAccounts({
      shape: '5',
      context: context({ environment: CHINA_CLOUD }),
      tokens: [tokenFor(vault.tenantId, { resource: CHINA_CLOUD.resourceId })],
    });
    defer(az.dispose);
    // No AZ_KEYVAULT_BACKUP_VAULT_URL: the executable builds https://<vault>.vault.azure.cn itself.
    const run = await runPwsh(
      `Import-Module ${psQuote(standInManifest())}
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'c1' -OutputFile ${psQuote(join(out, 'c1.blob'))} -Verbose -Debug`,
      { env: { NODE_EXTRA_CA_CERTS: vault.caFile, HTTPS_PROXY: proxy.url, ...az.env } },
    );
    assert.deepEqual(run.errors, []);
    assertBackupFile(vault, v, 'c1', join(out, 'c1.blob'));
    assert.ok(proxy.targets.length > 0 && proxy.targets.every((t) => t === `${v}.vault.azure.cn:443`), proxy.targets.join(', '));
    assert.equal(az.calls().find((c) => c.command === 'Get-AzAccessToken')?.resourceUrl, 'https://vault.azure.cn');
    assert.ok(run.verbose.some((l) => l.includes('vault DNS suffix vault.azure.cn')));
    assert.ok(run.debug.some((l) => l.includes('"type":"begin"') && l.includes('"dnsSuffix":"vault.azure.cn"')), "the pipeline's begin carries the cloud");
  });

  it('reports a 403 per secret with the permission the identity lacks, and the pipeline goes on', async function () {
    const v = uniqueVaultName('fb');
    seed(vault, v, ['ok1', 'denied', 'ok2']);
    const out = dir('azkvb-403-');
    const az = standInAzAccounts({ shape: '4', context: context(), tokens: [tokenFor(vault.tenantId)] });
    defer(az.dispose);
    vault.faults.add({ vault: v, name: 'denied', operation: 'backup' }, { kind: 'status', status: 403 });
    const run = await runPwsh(
      `Import-Module ${psQuote(standInManifest())}
      'ok1', 'denied', 'ok2' | ForEach-Object { [pscustomobject]@{ VaultName = '${v}'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ${psQuote(out)}`,
      { env: { ...vaultOnly(), ...az.env } },
    );
    assert.equal(run.outputs.length, 2);
    assert.equal(run.errors.length, 1);
    assert.equal(run.errors[0]?.fqid, 'AccessDenied,Backup-AzKeyVaultSecret');
    assert.equal(run.errors[0]?.category, 'PermissionDenied');
    assert.match(run.errors[0]?.message ?? '', /secrets\/backup/);
  });
});
