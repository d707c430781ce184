import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { TokenCredential } from '@azure/identity';
import { RestError, SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';

import { useSharedVault } from '../support/vault-fixture.js';
import { identityEndpointCredential } from '../support/identity-credential.js';
import type { LocalVault, RequestRecord } from '../support/local-vault/index.js';
import { repoRoot } from '../support/paths.js';

const BACKUP_PREFIX = ')AzureKeyVaultSecretBackupV1.microsoft.com';

function staticCredential(token: string): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
}

function client(vault: LocalVault, vaultName: string, opts: SecretClientOptions = {}, credential?: TokenCredential): SecretClient {
  return new SecretClient(vault.vaultUrlTemplate.replace('{vault}', vaultName), credential ?? identityEndpointCredential(vault), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: vault.caPem },
    ...opts,
  });
}

function uniqueVault(): string {
  return `v${randomBytes(6).toString('hex')}`;
}

async function rejection(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RestError, `expected a RestError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

function summary(records: RequestRecord[]): string[] {
  return records.map((r) => `${r.operation ?? '-'} ${r.status}${r.authorized ? ' auth' : ''}${r.fault ? ` ${r.fault}` : ''}`);
}

describe('local Key Vault stand-in, driven by the real SDK', function () {
  this.timeout(20_000);
  let vault: LocalVault;
  const fixture = useSharedVault();
  beforeEach(() => (vault = fixture.vault));

  it('stores, reads and lists secrets, paging with nextLink like the service', async function () {
    const name = uniqueVault();
    const kv = client(vault, name);
    const set = await kv.setSecret('Alpha', 'first');
    assert.equal(set.value, 'first');
    assert.match(set.properties.id ?? '', new RegExp(`^https://${name}\\.localhost:\\d+/secrets/Alpha/[0-9a-f]{32}$`));
    await kv.setSecret('alpha', 'second');
    assert.equal((await kv.getSecret('ALPHA')).value, 'second', 'names are case-insensitive and the newest version wins');
    assert.equal((await kv.getSecret('alpha', { version: set.properties.version! })).value, 'first');

    for (let i = 0; i < 29; i++) vault.setSecret(name, `bulk-${String(i).padStart(2, '0')}`, `v${i}`);
    const pages: number[] = [];
    for await (const page of kv.listPropertiesOfSecrets().byPage({ maxPageSize: 10 })) pages.push(page.length);
    assert.deepEqual(pages, [10, 10, 10]);
    const names: string[] = [];
    for await (const props of kv.listPropertiesOfSecrets()) names.push(props.name);
    assert.equal(names.length, 30);
    assert.ok(names.includes('Alpha'));
  });

  it('backs up a secret as the prefixed, per-call-different blob and restores it after deletion', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'db-password', 'hunter2');
    const kv = client(vault, name);

    const first = await kv.backupSecret('db-password');
    assert.ok(first);
    assert.deepEqual(Buffer.from(first), vault.lastBackupBlob(name, 'DB-PASSWORD'), 'the SDK hands back exactly the bytes served');
    const text = Buffer.from(first).toString('latin1');
    assert.ok(text.startsWith(BACKUP_PREFIX));
    assert.equal(text.slice(BACKUP_PREFIX.length).split('.').length, 5, 'a JWE compact string follows the prefix');
    const second = await kv.backupSecret('db-password');
    assert.notDeepEqual(Buffer.from(second!), Buffer.from(first), 'every backup is freshly encrypted');

    const conflict = await rejection(kv.restoreSecretBackup(first));
    assert.equal(conflict.statusCode, 409);

    vault.deleteSecret(name, 'db-password');
    await rejection(kv.getSecret('db-password'));
    const restored = await kv.restoreSecretBackup(first);
    assert.equal(restored.name, 'db-password');
    assert.equal((await kv.getSecret('db-password')).value, 'hunter2');
  });

  it("answers a fresh client's first request with a 401 challenge, then one token request, then the authorized retry", async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'hello', 'world');
    await client(vault, name).getSecret('hello');
    assert.deepEqual(summary(vault.requests), ['get 401', 'token 200 auth', 'get 200 auth']);
    const [challenge] = vault.requests;
    assert.equal(challenge?.vault, name);
    assert.equal(challenge?.name, 'hello');
  });

  it('sends the challenge the SDK parses: tenant in the authorization URL, vault resource, AKV10000 body', async function () {
    const res = await rawRequest(vault, 'GET', `/${uniqueVault()}/secrets/x?api-version=7.5`);
    assert.equal(res.status, 401);
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer authorization="https://login.microsoftonline.com/${vault.tenantId}", resource="https://vault.azure.net"`,
    );
    assert.deepEqual(JSON.parse(res.body), {
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
    });
  });

  it('surfaces a missing secret as a RestError 404 with code SecretNotFound and the service message', async function () {
    const err = await rejection(client(vault, uniqueVault()).backupSecret('nope'));
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'SecretNotFound');
    assert.match(err.message, /^A secret with \(name\/id\) nope was not found in this key vault\./);
  });

  it('refuses a token it did not issue, and an expired one of its own, with a 401 challenge', async function () {
    const forged = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{"aud":"https://vault.azure.net","exp":9999999999}').toString('base64url')}.c2lnbmF0dXJl`;
    const err = await rejection(client(vault, uniqueVault(), {}, staticCredential(forged)).getSecret('x'));
    assert.equal(err.statusCode, 401);
    assert.match(err.message, /^AKV10022/);
    assert.ok(vault.requests.every((r) => !r.authorized));

    const expired = vault.issueToken({ expiresInSeconds: -60 }).token;
    const res = await rawRequest(vault, 'GET', `/${uniqueVault()}/secrets/x?api-version=7.5`, { authorization: `Bearer ${expired}` });
    assert.equal(res.status, 401);
    assert.ok(res.headers['www-authenticate']);
    assert.match(res.body, /AKV10022/);
  });

  it('never writes a token into the request log', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 's', 'v');
    await client(vault, name).getSecret('s');
    const { token } = vault.issueToken();
    await rawRequest(vault, 'GET', `/${name}/secrets/s?api-version=7.5`, { authorization: `Bearer ${token}` });
    const log = JSON.stringify(vault.requests);
    assert.ok(!log.includes(token.split('.')[2]!));
    assert.ok(!/Bearer|access_token|eyJ/.test(log));
  });

  it('is retried by the SDK after a 429 Throttled with Retry-After, and then succeeds', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'busy', 'ok');
    vault.faults.add({ vault: name, operation: 'get' }, { kind: 'status', status: 429, retryAfter: 1 });
    const started = Date.now();
    assert.equal((await client(vault, name).getSecret('busy')).value, 'ok');
    assert.ok(Date.now() - started >= 900, 'the SDK waited for Retry-After');
    assert.deepEqual(summary(vault.requests), ['get 401', 'token 200 auth', 'get 429 auth status 429', 'get 200 auth']);
  });

  it('throttles above the scripted rate per vault without counting the 429s', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'hot', 'ok');
    const kv = client(vault, name);
    await kv.getSecret('hot');
    vault.clearRequests();
    vault.faults.setRateLimit(2);
    const results = await Promise.all([1, 2, 3, 4].map(() => kv.getSecret('hot')));
    assert.ok(results.every((s) => s.value === 'ok'));
    const throttledRecords = vault.requests.filter((r) => r.status === 429);
    assert.ok(throttledRecords.length >= 2, summary(vault.requests).join(', '));
  });

  it('is retried by the SDK after the connection is reset before any answer, and then succeeds', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'flaky', 'ok');
    vault.faults.add({ name: 'flaky', operation: 'backup' }, { kind: 'reset' }, 2);
    const blob = await client(vault, name, { retryOptions: { retryDelayInMs: 50 } }).backupSecret('flaky');
    assert.deepEqual(Buffer.from(blob!), vault.lastBackupBlob(name, 'flaky'));
    assert.deepEqual(summary(vault.requests).filter((s) => s.startsWith('backup')), [
      'backup 401',
      'backup 0 auth reset',
      'backup 0 auth reset',
      'backup 200 auth',
    ]);
  });

  it('cuts a response off mid-body, which the SDK does not retry but reports as PARSE_ERROR', async function () {
    // Worth knowing for callers: a truncated body is a network failure, not a service answer.
    const name = uniqueVault();
    vault.setSecret(name, 'cut', 'ok');
    vault.faults.add({ name: 'cut', operation: 'backup' }, { kind: 'resetMidBody' });
    const err = await rejection(client(vault, name, { retryOptions: { retryDelayInMs: 50 } }).backupSecret('cut'));
    assert.equal(err.code, 'PARSE_ERROR');
    assert.equal(err.statusCode, undefined);
    assert.deepEqual(summary(vault.requests).filter((s) => s.startsWith('backup')), ['backup 401', 'backup 200 auth resetMidBody']);
  });

  it('answers a scripted 403 in the service shape with the AccessDenied inner error', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'locked', 'x');
    vault.faults.add({ operation: 'backup' }, { kind: 'status', status: 403 }, Infinity);
    const kv = client(vault, name);
    for (let i = 0; i < 2; i++) {
      const err = await rejection(kv.backupSecret('locked'));
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'Forbidden');
      assert.match(err.message, new RegExp(`does not have secrets backup permission on key vault '${name};`));
      assert.equal((err.details as { error?: { innerError?: { code?: string } } } | undefined)?.error?.innerError?.code, 'AccessDenied');
    }
  });

  it('counts simultaneous backup requests', async function () {
    const name = uniqueVault();
    for (let i = 0; i < 4; i++) vault.setSecret(name, `s${i}`, 'x');
    const kv = client(vault, name);
    await kv.getSecret('s0');
    vault.clearRequests();
    vault.faults.setLatency(150);
    await Promise.all([0, 1, 2, 3].map((i) => kv.backupSecret(`s${i}`)));
    assert.equal(vault.inFlightMax(), 4);
  });

  it('leaves a hung request open until the client gives up', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'slow', 'x');
    vault.faults.add({ operation: 'get' }, { kind: 'hang' });
    const kv = client(vault, name, { retryOptions: { maxRetries: 0 } });
    await assert.rejects(kv.getSecret('slow', { abortSignal: AbortSignal.timeout(300) }));
    const hung = vault.requests.find((r) => r.fault === 'hang');
    assert.ok(hung);
    assert.equal(hung.status, 0);
  });

  it('finds the vault from a <vault>.localhost host name, with a certificate for that name', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'by-host', 'yes');
    const port = new URL(vault.origin).port;
    // No resolver maps *.localhost here, so the agent resolves it to loopback itself.
    const agent = new Agent({
      ca: vault.caPem,
      lookup: ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as never,
    });
    const kv = new SecretClient(`https://${name}.localhost:${port}`, identityEndpointCredential(vault), {
      disableChallengeResourceVerification: true,
      agent,
    });
    assert.equal((await kv.getSecret('by-host')).value, 'yes');
    assert.equal(vault.requests.at(-1)?.vault, name);
    agent.destroy();
  });

  it('gives DefaultAzureCredential in a fresh process a managed-identity token from IDENTITY_ENDPOINT', async function () {
    const name = uniqueVault();
    const value = randomBytes(12).toString('hex');
    vault.setSecret(name, 'from-child', value);
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ...vault.env(),
      PROBE_VAULT_URL: vault.vaultUrlTemplate.replace('{vault}', name),
      PROBE_SECRET_NAME: 'from-child',
      PROBE_EXPECTED_SHA256: createHash('sha256').update(value).digest('hex'),
    };
    assert.ok(!Object.keys(env).some((k) => k.startsWith('AZURE_')));
    const probe = join(repoRoot(), 'out', 'test', 'support', 'local-vault', 'default-credential-probe.js');
    const { stdout } = await promisify(execFile)(process.execPath, [probe], { env, timeout: 15_000 });
    assert.deepEqual(JSON.parse(stdout), { ok: true, valueMatches: true, name: 'from-child' });
    assert.deepEqual(summary(vault.requests), ['get 401', 'token 200 auth', 'get 200 auth']);
  });

  it('faults the managed-identity endpoint only when a fault names the token operation', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'm', 'x');
    vault.faults.add({}, { kind: 'status', status: 500 }, Infinity);
    vault.faults.clear();
    vault.faults.add({ operation: 'token' }, { kind: 'status', status: 500, message: 'identity endpoint down' });
    await assert.rejects(client(vault, name).getSecret('m'), /token endpoint answered 500/);
    vault.clearRequests();
    assert.equal((await client(vault, name).getSecret('m')).value, 'x');
    assert.deepEqual(summary(vault.requests), ['get 401', 'token 200 auth', 'get 200 auth']);
  });

  it('refuses the managed-identity endpoint without the right X-IDENTITY-HEADER', async function () {
    const url = new URL(vault.identityEndpoint);
    url.searchParams.set('api-version', '2019-08-01');
    url.searchParams.set('resource', 'https://vault.azure.net');
    const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': 'wrong' } });
    assert.equal(res.status, 401);
    assert.deepEqual(summary(vault.requests), ['token 401']);
  });
});

function rawRequest(
  vault: LocalVault,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, vault.origin), { method, headers, ca: vault.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}
