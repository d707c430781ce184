import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chainOptionsFor } from '../../src/core/credential-chain.js';
import { startConnectProxy } from '../support/local-vault/connect-proxy.js';
import { startLocalVault, type LocalVault } from '../support/local-vault/index.js';
import { exeEnv, runExe } from '../support/run-exe.js';
import { startServe as startSession } from '../support/serve-session.js';

/** Drives `serve` line by line, so a test can answer what the executable asks; end() ends pipeline 0 and closes stdin. */
function startServe(args: string[], env: NodeJS.ProcessEnv) {
  const session = startSession(args, env);
  return {
    ...session,
    end: async () => {
      const code = await session.close({ type: 'end' });
      assert.equal(session.lines.at(-1)?.type, 'done', JSON.stringify(session.lines));
      return code;
    },
  };
}

const hello = (features?: string[]) => ({ type: 'hello', protocol: 3, client: 'credentials test', ...(features ? { features } : {}) });

describe('the executable signing in by itself', function () {
  this.timeout(60_000);
  let vault: LocalVault;
  let dir: string;

  before(async () => {
    vault = await startLocalVault();
  });
  after(() => vault.close());
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'azkvb-cred-'));
    vault.faults.clear();
    vault.clearRequests();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const vaultOnly = () => ({ NODE_EXTRA_CA_CERTS: vault.caFile, AZ_KEYVAULT_BACKUP_VAULT_URL: vault.vaultUrlTemplate });

  it('skips instance discovery only for an authority host that is not Microsoft', () => {
    assert.deepEqual(chainOptionsFor(undefined), {});
    assert.deepEqual(chainOptionsFor('https://login.microsoftonline.com'), {});
    assert.deepEqual(chainOptionsFor('https://login.chinacloudapi.cn/'), {});
    assert.deepEqual(chainOptionsFor('https://login.microsoftonline.us'), {});
    assert.deepEqual(chainOptionsFor('https://127.0.0.1:8443'), { disableInstanceDiscovery: true });
    assert.deepEqual(chainOptionsFor('https://adfs.contoso.example/adfs'), { disableInstanceDiscovery: true });
    assert.deepEqual(chainOptionsFor('https://login.microsoftonline.com.evil.example'), { disableInstanceDiscovery: true });
  });

  it("signs in as an environment service principal (AZURE_CLIENT_SECRET) at the authority, for the tenant the vault's challenge names", async () => {
    vault.setSecret('spvault', 'sp', 'value');
    const clientId = randomUUID();
    const secret = randomBytes(24).toString('base64url');
    vault.addClient(clientId, secret);
    const otherTenant = randomUUID();
    const env = exeEnv({
      ...vaultOnly(),
      AZURE_TENANT_ID: otherTenant,
      AZURE_CLIENT_ID: clientId,
      AZURE_CLIENT_SECRET: secret,
      AZURE_AUTHORITY_HOST: vault.origin,
    });
    const run = await runExe(['backup', '--vault-name', 'spvault', '--name', 'sp', '-d', dir, '--log-level', 'debug'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readFileSync(run.stdout.trim()), vault.lastBackupBlob('spvault', 'sp'));
    const authority = vault.requests.filter((r) => r.operation === 'token').map((r) => ({ ...r, url: r.url.replace(/\?.*$/, '') }));
    assert.ok(authority.some((r) => r.url === `/${vault.tenantId}/v2.0/.well-known/openid-configuration` && r.status === 200), JSON.stringify(authority));
    assert.ok(authority.some((r) => r.url === `/${vault.tenantId}/oauth2/v2.0/token` && r.authorized), 'client credentials for the challenge tenant, not AZURE_TENANT_ID');
    assert.ok(!run.stderr.includes(secret));
  });

  it('says why a service principal was refused, without the SDK stack', async () => {
    vault.setSecret('spvault', 'sp', 'value');
    const clientId = randomUUID();
    vault.addClient(clientId, 'the-right-secret');
    const env = exeEnv({ ...vaultOnly(), AZURE_TENANT_ID: vault.tenantId, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: 'a-wrong-secret', AZURE_AUTHORITY_HOST: vault.origin });
    const run = await runExe(['backup', '--vault-name', 'spvault', '--name', 'sp', '-d', dir], { env });
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /^az-keyvault-backup: AuthenticationFailed: .*AADSTS7000215: Invalid client secret provided/);
    assert.ok(!/\n\s+at /.test(run.stderr), run.stderr);
    assert.ok(!run.stderr.includes('a-wrong-secret'));
  });

  for (const withPwsh of [false, true]) {
    it(`fails every item of a pipeline with the same AuthenticationFailed after ONE try of the chain, quickly (${withPwsh ? 'pwsh' : 'neither az nor pwsh'} on PATH)`, async function () {
      const pwshDir = path.dirname(process.env['AZKVB_PWSH'] ?? path.join(process.env['HOME'] ?? '/root', '.dotnet', 'tools', 'pwsh'));
      if (withPwsh && !process.env['AZKVB_PWSH'] && !existsSync(path.join(pwshDir, 'pwsh'))) this.skip();
      for (const n of ['n1', 'n2', 'n3', 'n4']) vault.setSecret('ncvault', n, 'v');
      const env = exeEnv({ ...vaultOnly(), PATH: withPwsh ? `${pwshDir}:/usr/bin:/bin` : '/usr/bin:/bin' });
      const started = Date.now();
      const serve = startServe(['--log-level', 'verbose'], env);
      serve.send(hello(['tokenRequest']));
      ['n1', 'n2', 'n3', 'n4'].forEach((name, i) => serve.send({ type: 'backup', id: i + 1, vaultName: 'ncvault', name, directory: dir, force: false }));
      const results = await Promise.all([1, 2, 3, 4].map((id) => serve.next((m) => m.type === 'result' && m.id === id)));
      const seconds = (Date.now() - started) / 1000;
      console.log(`      (no credential, ${withPwsh ? 'pwsh' : 'no az/pwsh'} on PATH: all 4 failed after ${seconds.toFixed(2)} s)`);
      assert.equal(await serve.end(), 0);
      const errors = results.map((r) => r.error as { errorId: string; category: string; message: string });
      assert.ok(errors.every((e) => e.errorId === 'AuthenticationFailed' && e.category === 'AuthenticationError'));
      // The same reason for every item, each message naming its own secret.
      const reasons = errors.map((e, i) => {
        const suffix = ` (vault 'ncvault', secret 'n${i + 1}')`;
        assert.ok(e.message.endsWith(suffix), e.message);
        return e.message.slice(0, -suffix.length);
      });
      assert.equal(new Set(reasons).size, 1, reasons.join('\n'));
      assert.equal(serve.stderr().split('\n').filter((l) => l.includes('Signing in with the credential chain failed')).length, 1, 'the chain was tried once');
      assert.ok(seconds < 15, `${seconds} s`);
    });
  }

  it('asks the module (tokenRequest) for the tenant the challenge names, and uses its own chain once the module declines', async () => {
    vault.setSecret('trvault', 'one', 'v1');
    vault.setSecret('trvault2', 'two', 'v2');
    // IDENTITY_ENDPOINT is there for the fallback only; the first item must use the module's answer.
    const serve = startServe(['--log-level', 'debug'], exeEnv(vault.env()));
    serve.send(hello(['tokenRequest']));
    const home = vault.issueToken();
    serve.send({ type: 'token', token: home.token, expiresOn: home.expiresOn, tenantId: 'another-tenant' });
    serve.send({ type: 'backup', id: 1, vaultName: 'trvault', name: 'one', directory: dir, force: false });
    const request = await serve.next((m) => m.type === 'tokenRequest');
    assert.deepEqual(request, { type: 'tokenRequest', tenantId: vault.tenantId });
    const answer = vault.issueToken();
    serve.send({ type: 'token', token: answer.token, expiresOn: answer.expiresOn, tenantId: vault.tenantId });
    const first = await serve.next((m) => m.type === 'result' && m.id === 1);
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(vault.requests.filter((r) => r.operation === 'token').length, 0, 'no managed-identity token was needed');

    // Another vault (its client has no cached token) while the module's token for that tenant is
    // about to expire: asked again, the module declines, and the executable signs in by itself.
    serve.send({ type: 'token', token: answer.token, expiresOn: Math.floor(Date.now() / 1000) + 30, tenantId: vault.tenantId });
    serve.send({ type: 'backup', id: 2, vaultName: 'trvault2', name: 'two', directory: dir, force: false });
    await serve.next((m) => m.type === 'tokenRequest' && serve.lines.filter((l) => l.type === 'tokenRequest').length === 2);
    serve.send({ type: 'tokenUnavailable', tenantId: vault.tenantId, message: 'no such tenant in the context' });
    const second = await serve.next((m) => m.type === 'result' && m.id === 2);
    assert.equal(second.ok, true, JSON.stringify(second));
    assert.ok(vault.requests.some((r) => r.operation === 'token' && r.authorized), 'the managed identity signed in');
    assert.equal(await serve.end(), 0);
    assert.ok(!serve.stderr().includes(answer.token) && !serve.stderr().includes(home.token), 'tokens never reach stderr');
  });

  it('never sends tokenRequest to a module that did not offer it', async () => {
    vault.setSecret('trvault', 'one', 'v1');
    const serve = startServe([], exeEnv(vault.env()));
    serve.send(hello());
    const near = vault.issueToken({ expiresInSeconds: 60 });
    serve.send({ type: 'token', token: near.token, expiresOn: near.expiresOn });
    serve.send({ type: 'backup', id: 1, vaultName: 'trvault', name: 'one', directory: dir, force: false });
    const result = await serve.next((m) => m.type === 'result');
    assert.equal(result.ok, true);
    assert.equal(await serve.end(), 0);
    assert.deepEqual(serve.lines.map((l) => l.type), ['hello', 'result', 'done']);
    assert.deepEqual(serve.lines.at(-1), { type: 'done', pipeline: 0, succeeded: 1, failed: 0 });
  });

  it("asks for a named Az context's token (tokenRequest with its context) before any token was supplied, and uses the answer", async () => {
    vault.setSecret('ctxvault', 'one', 'v1');
    // IDENTITY_ENDPOINT is there as a fallback only: the module's answer must be used.
    const serve = startServe(['--log-level', 'debug'], exeEnv(vault.env()));
    serve.send(hello(['tokenRequest']), { type: 'begin', pipeline: 1, context: 'az1' });
    serve.send({ type: 'backup', pipeline: 1, id: 1, vaultName: 'ctxvault', name: 'one', directory: dir, force: false });
    assert.deepEqual(await serve.next((m) => m.type === 'tokenRequest'), { type: 'tokenRequest', context: 'az1', tenantId: vault.tenantId });
    const answer = vault.issueToken();
    serve.send({ type: 'token', context: 'az1', token: answer.token, expiresOn: answer.expiresOn, tenantId: vault.tenantId });
    const result = await serve.next((m) => m.type === 'result');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(readFileSync(result.path!), vault.lastBackupBlob('ctxvault', 'one'));
    serve.send({ type: 'end', pipeline: 1 });
    assert.deepEqual(await serve.next((m) => m.type === 'done'), { type: 'done', pipeline: 1, succeeded: 1, failed: 0 });
    assert.equal(await serve.close(), 0);
    assert.equal(vault.requests.filter((r) => r.operation === 'token').length, 0, 'no managed-identity token was needed');
    assert.ok(vault.requests.some((r) => r.operation === 'backup' && r.authorized && r.status === 200));
    assert.ok(!serve.stderr().includes(answer.token), 'the token never reaches stderr');
  });

  it("keeps tokens per context: another context's pipeline asks for its own, a later pipeline of the first reuses the first's, and the executable's own context never asks", async () => {
    vault.setSecret('ctxvault', 'one', 'v1');
    const serve = startServe([], exeEnv(vault.env()));
    const requests = () => serve.lines.filter((l) => l.type === 'tokenRequest');
    serve.send(hello(['tokenRequest']), { type: 'begin', pipeline: 1, context: 'az1' });
    serve.send({ type: 'backup', pipeline: 1, id: 'p1', vaultName: 'ctxvault', name: 'one', directory: dir, force: false });
    await serve.next((m) => m.type === 'tokenRequest' && m.context === 'az1');
    const az1 = vault.issueToken();
    serve.send({ type: 'token', context: 'az1', token: az1.token, expiresOn: az1.expiresOn, tenantId: vault.tenantId });
    serve.send({ type: 'end', pipeline: 1 });
    await serve.next((m) => m.type === 'done' && m.pipeline === 1);

    // Another context, same vault: az1's token is not used for it; it asks, is declined, and signs in by itself.
    serve.send({ type: 'begin', pipeline: 2, context: 'az2' });
    serve.send({ type: 'backup', pipeline: 2, id: 'p2', vaultName: 'ctxvault', name: 'one', directory: dir, force: false });
    assert.deepEqual(await serve.next((m) => m.type === 'tokenRequest' && m.context === 'az2'), { type: 'tokenRequest', context: 'az2', tenantId: vault.tenantId });
    serve.send({ type: 'tokenUnavailable', context: 'az2', tenantId: vault.tenantId, message: 'not signed in to that tenant' });
    serve.send({ type: 'end', pipeline: 2 });
    await serve.next((m) => m.type === 'done' && m.pipeline === 2);
    assert.equal(vault.requests.filter((r) => r.operation === 'token' && r.status === 200).length, 1, 'az2 fell back to the managed identity, once');

    // az1 again: its cached token, no new request. Pipeline 0 (the executable's own context, no token ever supplied to it): never asks.
    serve.send({ type: 'begin', pipeline: 3, context: 'az1' });
    serve.send({ type: 'backup', pipeline: 3, id: 'p3', vaultName: 'ctxvault', name: 'one', directory: dir, force: false });
    serve.send({ type: 'backup', id: 'p0', vaultName: 'ctxvault', name: 'one', directory: dir, force: false });
    serve.send({ type: 'end', pipeline: 3 }, { type: 'end' });
    await serve.next((m) => m.type === 'done' && m.pipeline === 3);
    await serve.next((m) => m.type === 'done' && m.pipeline === 0);
    assert.equal(await serve.close(), 0);
    assert.deepEqual(requests().map((r) => r.context), ['az1', 'az2'], JSON.stringify(serve.lines));
    const results = serve.lines.filter((l) => l.type === 'result');
    assert.deepEqual(results.map((r) => [r.id, r.ok]).sort(), [['p0', true], ['p1', true], ['p2', true], ['p3', true]], serve.stderr());
  });

  it('reaches a US Government vault (--vault-dns-suffix vault.usgovcloudapi.net) with that cloud\'s token, the challenge\'s resource check on', async () => {
    vault.setSecret('govvault', 'g1', 'v');
    const proxy = await startConnectProxy(Number(new URL(vault.origin).port));
    try {
      const env = exeEnv({ NODE_EXTRA_CA_CERTS: vault.caFile, HTTPS_PROXY: proxy.url });
      const serve = startServe(['--vault-dns-suffix', 'vault.usgovcloudapi.net'], env);
      serve.send(hello(['tokenRequest']));
      const token = vault.issueToken({ audience: 'https://vault.usgovcloudapi.net' });
      serve.send({ type: 'token', token: token.token, expiresOn: token.expiresOn, tenantId: vault.tenantId });
      serve.send({ type: 'backup', id: 1, vaultName: 'govvault', name: 'g1', outputFile: path.join(dir, 'g1.blob'), force: false });
      const result = await serve.next((m) => m.type === 'result');
      assert.equal(result.ok, true, JSON.stringify(result) + serve.stderr());
      assert.equal(await serve.end(), 0);
      assert.deepEqual(readFileSync(path.join(dir, 'g1.blob')), vault.lastBackupBlob('govvault', 'g1'));
      assert.ok(proxy.targets.length > 0 && proxy.targets.every((t) => t === 'govvault.vault.usgovcloudapi.net:443'), proxy.targets.join(', '));

      // A public-cloud token is refused there: the audience must be that cloud's.
      vault.clearRequests();
      const wrong = startServe(['--vault-dns-suffix', 'vault.usgovcloudapi.net'], env);
      wrong.send(hello());
      const publicToken = vault.issueToken();
      wrong.send({ type: 'token', token: publicToken.token, expiresOn: publicToken.expiresOn, tenantId: vault.tenantId });
      wrong.send({ type: 'backup', id: 1, vaultName: 'govvault', name: 'g1', outputFile: path.join(dir, 'g2.blob'), force: false });
      const refused = await wrong.next((m) => m.type === 'result');
      assert.equal((refused.error as { errorId: string }).errorId, 'AuthenticationFailed', JSON.stringify(refused));
      await wrong.end();
    } finally {
      await proxy.close();
    }
  });

  it('reaches another cloud by AZ_KEYVAULT_BACKUP_VAULT_DNS_SUFFIX, and by a secret identifier naming that cloud', async () => {
    vault.setSecret('cnvault', 'c1', 'v');
    vault.setSecret('govvault', 'g3', 'v');
    const proxy = await startConnectProxy(Number(new URL(vault.origin).port));
    try {
      // China by the environment variable, as a runbook without Az would set it.
      const china = startServe([], exeEnv({ NODE_EXTRA_CA_CERTS: vault.caFile, HTTPS_PROXY: proxy.url, AZ_KEYVAULT_BACKUP_VAULT_DNS_SUFFIX: 'vault.azure.cn' }));
      china.send(hello());
      const cnToken = vault.issueToken({ audience: 'https://vault.azure.cn' });
      china.send({ type: 'token', token: cnToken.token, expiresOn: cnToken.expiresOn, tenantId: vault.tenantId, resource: 'https://vault.azure.cn' });
      china.send({ type: 'backup', id: 1, vaultName: 'cnvault', name: 'c1', outputFile: path.join(dir, 'c1.blob'), force: false });
      const cn = await china.next((m) => m.type === 'result');
      assert.equal(cn.ok, true, JSON.stringify(cn) + china.stderr());
      assert.equal(await china.end(), 0);
      assert.deepEqual(readFileSync(path.join(dir, 'c1.blob')), vault.lastBackupBlob('cnvault', 'c1'));
      assert.ok(proxy.targets.length > 0 && !proxy.targets.some((t) => t !== 'cnvault.vault.azure.cn:443'), proxy.targets.join(', '));

      // US Government by the identifier alone, with the public cloud configured.
      proxy.targets.length = 0;
      const gov = startServe([], exeEnv({ NODE_EXTRA_CA_CERTS: vault.caFile, HTTPS_PROXY: proxy.url }));
      gov.send(hello());
      const govToken = vault.issueToken({ audience: 'https://vault.usgovcloudapi.net' });
      gov.send({ type: 'token', token: govToken.token, expiresOn: govToken.expiresOn, tenantId: vault.tenantId, resource: 'https://vault.usgovcloudapi.net' });
      gov.send({ type: 'backup', id: 1, secretId: 'https://govvault.vault.usgovcloudapi.net/secrets/g3', outputFile: path.join(dir, 'g3.blob'), force: false });
      const us = await gov.next((m) => m.type === 'result');
      assert.equal(us.ok, true, JSON.stringify(us) + gov.stderr());
      assert.equal(await gov.end(), 0);
      assert.deepEqual(readFileSync(path.join(dir, 'g3.blob')), vault.lastBackupBlob('govvault', 'g3'));
      assert.ok(proxy.targets.length > 0 && proxy.targets.every((t) => t === 'govvault.vault.usgovcloudapi.net:443'), proxy.targets.join(', '));
    } finally {
      await proxy.close();
    }
  });
});
