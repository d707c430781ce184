import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { BackupError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createVaultClients, DEFAULT_TRANSPORT, VaultPacers, type TransportOptions } from '../../../src/core/vault-client.js';
import { identityEndpointCredential } from '../../support/identity-credential.js';
import { startLocalVault, type LocalVault } from '../../support/local-vault/index.js';

// The real SDK client this file makes, against the local vault: HTTPS with its own CA, the real
// challenge, a token from its managed-identity endpoint on loopback. What is tested here is what
// secret-client.ts does besides retrying and pacing (those have their own tests): the address, one
// client per vault, the size cap, the timeout and cancellation options, and how the answer is read.
// Retries are off (maxRetries 0) so every assertion is about one attempt.

const isInvalidResponse = (message: RegExp) => (e: unknown) => e instanceof BackupError && e.kind === 'Service' && e.code === 'InvalidResponse' && message.test(e.message);

describe('the vault clients (against the local vault)', function () {
  this.timeout(30_000);
  let vault: LocalVault;
  let defaultCas: string[];

  before(async function () {
    // First start generates the CA with openssl.
    this.timeout(60_000);
    vault = await startLocalVault();
    // The client gets no CA option (the executable trusts a local CA by NODE_EXTRA_CA_CERTS, read
    // at start-up): this process trusts the local vault's CA the same way, for this file only.
    defaultCas = getCACertificates('default');
    setDefaultCACertificates([...defaultCas, vault.caPem]);
  });
  after(async () => {
    if (defaultCas !== undefined) setDefaultCACertificates(defaultCas);
    await vault?.close();
  });
  beforeEach(() => {
    vault.faults.clear();
    vault.clearRequests();
  });

  /** A vault of its own per test, so request logs and faults never mix. */
  const fresh = (): string => `sc${randomBytes(5).toString('hex')}`;

  function clients(overrides: Partial<TransportOptions> = {}) {
    const credential = identityEndpointCredential(vault);
    const clientFor = createVaultClients({
      ...DEFAULT_TRANSPORT,
      credential,
      addressing: { dnsSuffix: 'vault.azure.net', override: vault.vaultUrlTemplate },
      logger: silentLogger,
      maxRetries: 0,
      ...overrides,
    });
    return { clientFor, credential };
  }

  const backupsOf = (v: string) => vault.requests.filter((r) => r.vault?.toLowerCase() === v.toLowerCase() && r.operation === 'backup');

  it("backs up a secret at an explicit vault address, through the vault's challenge, to the exact bytes it sent", async () => {
    const v = fresh();
    vault.setSecret(v, 'db-password', 'hunter2');
    const { clientFor, credential } = clients();
    const bytes = await clientFor(v).backup('secret', 'db-password', {});
    assert.deepEqual(Buffer.from(bytes), vault.lastBackupBlob(v, 'db-password'));
    // The explicit address relaxes the challenge's resource check: the local vault names
    // https://vault.azure.net from 127.0.0.1, which the SDK would otherwise refuse.
    assert.deepEqual(
      backupsOf(v).map((r) => [r.status, r.authorized]),
      [
        [401, false],
        [200, true],
      ],
    );
    assert.equal(credential.calls(), 1);
  });

  it('puts the vault name, lower-cased, where the address template says {vault}', async () => {
    const v = fresh();
    vault.setSecret(v, 'Mixed-Case', 'x');
    const { clientFor } = clients();
    await clientFor(v.toUpperCase()).backup('secret', 'Mixed-Case', {});
    const paths = backupsOf(v).map((r) => new URL(r.url, 'https://local').pathname);
    assert.deepEqual([...new Set(paths)], [`/${v}/secrets/Mixed-Case/backup`]);
  });

  it('uses one client per vault whatever the case of its name: one challenge for all its backups', async () => {
    const v = fresh();
    for (const n of ['a', 'b', 'c']) vault.setSecret(v, n, n);
    const { clientFor } = clients();
    await clientFor(v).backup('secret', 'a', {});
    await clientFor(v.toUpperCase()).backup('secret', 'b', {});
    await clientFor(`${v[0]!.toUpperCase()}${v.slice(1)}`).backup('secret', 'c', {});
    assert.deepEqual(
      backupsOf(v).map((r) => r.status),
      [401, 200, 200, 200],
      'a second client would have fetched the challenge again',
    );
  });

  it('gives each vault its own client (its own challenge)', async () => {
    const [v1, v2] = [fresh(), fresh()];
    vault.setSecret(v1, 's', '1');
    vault.setSecret(v2, 's', '2');
    const { clientFor } = clients();
    await clientFor(v1).backup('secret', 's', {});
    await clientFor(v2).backup('secret', 's', {});
    assert.deepEqual(backupsOf(v1).map((r) => r.status), [401, 200]);
    assert.deepEqual(backupsOf(v2).map((r) => r.status), [401, 200]);
  });

  it('reports a secret the vault does not have as the SDK error (404) for the caller to map', async () => {
    const v = fresh();
    const { clientFor } = clients();
    await assert.rejects(clientFor(v).backup('secret', 'missing', {}), (e: unknown) => (e as { statusCode?: number }).statusCode === 404);
  });

  it('refuses an answer over maxResponseBytes (oversized) as ResponseTooLarge, and writes nothing from it', async () => {
    const v = fresh();
    vault.setSecret(v, 'big', 'x');
    const body = JSON.stringify({ value: randomBytes(4096).toString('base64url') });
    vault.faults.add({ vault: v, name: 'big', operation: 'backup' }, { kind: 'body', body });
    const { clientFor } = clients({ maxResponseBytes: 1024 });
    await assert.rejects(clientFor(v).backup('secret', 'big', {}), (e: unknown) => e instanceof BackupError && e.code === 'ResponseTooLarge' && e.status === 200);
  });

  it('stops reading an endless answer at maxResponseBytes and hangs up (oversized)', async () => {
    const v = fresh();
    vault.setSecret(v, 'endless', 'x');
    vault.faults.add({ vault: v, name: 'endless', operation: 'backup' }, { kind: 'endless' });
    const { clientFor } = clients({ maxResponseBytes: 256 * 1024 });
    const started = Date.now();
    await assert.rejects(clientFor(v).backup('secret', 'endless', {}), (e: unknown) => e instanceof BackupError && e.code === 'ResponseTooLarge');
    assert.ok(Date.now() - started < 10_000, 'refused long before the 1 GiB the vault would send');
    // The vault sees the connection close (it stamps endedAt then) instead of pumping on.
    const deadline = Date.now() + 5_000;
    while (backupsOf(v).find((r) => r.fault === 'endless')?.endedAt === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(backupsOf(v).find((r) => r.fault === 'endless')!.endedAt > 0, 'the client hung up');
  });

  it('accepts an answer just under maxResponseBytes', async () => {
    const v = fresh();
    vault.setSecret(v, 'fits', 'x');
    const blob = randomBytes(3000);
    const body = JSON.stringify({ value: blob.toString('base64url') });
    vault.faults.add({ vault: v, name: 'fits', operation: 'backup' }, { kind: 'body', body });
    const { clientFor } = clients({ maxResponseBytes: Buffer.byteLength(body) });
    assert.deepEqual(Buffer.from(await clientFor(v).backup('secret', 'fits', {})), blob);
  });

  it('gives up on an attempt after requestTimeoutMs when the vault never answers', async () => {
    const v = fresh();
    vault.setSecret(v, 'slow', 'x');
    const { clientFor } = clients({ requestTimeoutMs: 300 });
    // The challenge first, so the hang is the authorised request's.
    await clientFor(v).backup('secret', 'slow', {});
    vault.faults.add({ vault: v, name: 'slow', operation: 'backup' }, { kind: 'hang' });
    const started = Date.now();
    await assert.rejects(clientFor(v).backup('secret', 'slow', {}));
    const ms = Date.now() - started;
    assert.ok(ms >= 250 && ms < 10_000, `gave up after ${ms} ms`);
  });

  it("stops when the caller's signal aborts mid-request", async () => {
    const v = fresh();
    vault.setSecret(v, 'cancelled', 'x');
    vault.faults.add({ vault: v, name: 'cancelled', operation: 'backup' }, { kind: 'hang' });
    // The SDK's HTTP client leaves its per-attempt timer running after an abort (it clears it only
    // on an answer): a short one, so it cannot hold this test process open for the default minute.
    const { clientFor } = clients({ requestTimeoutMs: 3_000 });
    const started = Date.now();
    await assert.rejects(clientFor(v).backup('secret', 'cancelled', { signal: AbortSignal.timeout(300) }), (e: unknown) => (e as { name?: string }).name === 'AbortError');
    assert.ok(Date.now() - started < 2_500, 'the abort, not the attempt timeout, ended it');
  });

  describe('reading the answer', () => {
    const cases: Array<{ what: string; body: string; contentType?: string; message: RegExp }> = [
      { what: 'a page that is not JSON (a proxy or captive portal)', body: '<html>sign in</html>', contentType: 'text/html; charset=utf-8', message: /not JSON \(content type 'text\/html; charset=utf-8'\)/ },
      { what: 'an empty body', body: '', message: /empty body/ },
      { what: 'a body that is not JSON under a JSON content type', body: '{"value":', message: /body that is not JSON\.$/ },
      { what: 'JSON that is not an object', body: '42', message: /not a JSON object/ },
      { what: 'an object without a value', body: '{"other":"x"}', message: /no 'value' string/ },
      { what: 'a value that is not base64url (decoded strictly, not leniently)', body: '{"value":"QUJD!REVG"}', message: /not base64url/ },
      { what: 'an empty value', body: '{"value":""}', message: /answer is empty/ },
    ];
    for (const c of cases) {
      it(`refuses ${c.what} as InvalidResponse`, async () => {
        const v = fresh();
        vault.setSecret(v, 's', 'x');
        vault.faults.add({ vault: v, name: 's', operation: 'backup' }, { kind: 'body', body: c.body, ...(c.contentType !== undefined ? { contentType: c.contentType } : {}) });
        const { clientFor } = clients();
        await assert.rejects(clientFor(v).backup('secret', 's', {}), isInvalidResponse(c.message));
      });
    }

    it('accepts a JSON content type with a suffix and parameters (application/vnd.x+json; charset)', async () => {
      const v = fresh();
      vault.setSecret(v, 's', 'x');
      const blob = randomBytes(64);
      vault.faults.add({ vault: v, name: 's', operation: 'backup' }, { kind: 'body', body: JSON.stringify({ value: blob.toString('base64url') }), contentType: 'application/vnd.example+json; charset=utf-8' });
      const { clientFor } = clients();
      assert.deepEqual(Buffer.from(await clientFor(v).backup('secret', 's', {})), blob);
    });
  });
});

describe("each vault's one pacer", () => {
  it('gives every set of clients of a session the same pacer for one vault, whatever the case of its address', () => {
    const pacers = new VaultPacers(360);
    const a = pacers.for('https://myvault.vault.azure.net');
    assert.equal(pacers.for('https://MyVault.vault.azure.net'), a);
    assert.notEqual(pacers.for('https://other.vault.azure.net'), a);
  });

  it('spends one 10-second budget for one vault across two sets of clients, as the service counts it', () => {
    const pacers = new VaultPacers(1);
    const first = pacers.for('https://v.vault.azure.net');
    const second = pacers.for('https://v.vault.azure.net');
    // A budget of 10 per 10 s: the first ten go at once, whichever set sends them; the next waits.
    for (let i = 0; i < 10; i++) assert.equal((i % 2 === 0 ? first : second).reserve(0), 0, `request ${i + 1} goes at once`);
    assert.ok(second.reserve(0) > 0, 'the eleventh waits, though its set of clients has sent only five');
  });
});
