import { strict as assert } from 'node:assert';
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

import { useSharedVault } from '../support/vault-fixture.js';
import { identityEndpointCredential } from '../support/identity-credential.js';
import { KeyClient } from '@azure/keyvault-keys';

import type { LocalVault } from '../support/local-vault/index.js';
import { hsmKeyClient, rawRequest, rejection, sdkClients, staticCredential, uniqueVault } from '../support/local-vault/sdk-clients.js';

const HSM_RESOURCE = 'https://managedhsm.azure.net';
const FAST = { intervalInMs: 10 };

describe('local Key Vault stand-in: Managed HSM keys at <origin>/hsm/<hsm>, through the real SDK', function () {
  this.timeout(20_000);
  let vault: LocalVault;
  const fixture = useSharedVault();
  beforeEach(() => (vault = fixture.vault));

  it('names the HSM resource in its challenge and tells the executable where HSMs are', async function () {
    const hsm = uniqueVault();
    assert.equal(vault.hsmUrlTemplate, `${vault.origin}/hsm/{vault}`);
    assert.equal(vault.env()['AZ_KEYVAULT_BACKUP_HSM_URL'], vault.hsmUrlTemplate);
    const res = await rawRequest(vault, 'GET', `/hsm/${hsm}/keys/k?api-version=7.5`);
    assert.equal(res.status, 401);
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer authorization="https://login.microsoftonline.com/${vault.tenantId}", resource="${HSM_RESOURCE}"`,
    );
    const vaultChallenge = await rawRequest(vault, 'GET', `/${hsm}/keys/k?api-version=7.5`);
    assert.match(String(vaultChallenge.headers['www-authenticate']), /resource="https:\/\/vault\.azure\.net"$/, 'a vault of the same name keeps the vault resource');
  });

  it('refuses a vault-audience token with a 401 challenge and accepts an HSM-audience one, and the other way round for vaults', async function () {
    const hsm = uniqueVault();
    vault.setKey(hsm, 'k', { hsm: true });
    const vaultToken = vault.issueToken().token;
    const hsmToken = vault.issueToken({ audience: HSM_RESOURCE }).token;

    const refused = await rawRequest(vault, 'GET', `/hsm/${hsm}/keys/k?api-version=7.5`, { token: vaultToken });
    assert.equal(refused.status, 401);
    assert.match(refused.body, /AKV10022: Invalid audience/);
    assert.match(String(refused.headers['www-authenticate']), /resource="https:\/\/managedhsm\.azure\.net"/);
    assert.equal((await rawRequest(vault, 'GET', `/hsm/${hsm}/keys/k?api-version=7.5`, { token: hsmToken })).status, 200);
    assert.equal((await rawRequest(vault, 'GET', `/${hsm}/keys/k?api-version=7.5`, { token: hsmToken })).status, 401, 'an HSM token is no vault token');

    const err = await rejection(hsmKeyClient(vault, hsm, staticCredential(vaultToken)).getKey('k'));
    assert.equal(err.statusCode, 401);
  });

  it('serves only the keys paths on an HSM', async function () {
    const hsm = uniqueVault();
    const token = vault.issueToken({ audience: HSM_RESOURCE }).token;
    for (const path of ['secrets/s', 'certificates/c', 'deletedsecrets/s']) {
      const res = await rawRequest(vault, 'GET', `/hsm/${hsm}/${path}?api-version=7.5`, { token });
      assert.equal(res.status, 404, path);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'NotFound', path);
    }
    assert.equal((await rawRequest(vault, 'GET', `/hsm/${hsm}/keys/absent?api-version=7.5`, { token })).status, 404);
  });

  it('backs up and restores an HSM key through the SDK with a managed-identity HSM token, apart from a vault of the same name', async function () {
    vault.setPurgeLinger(300);
    const hsm = uniqueVault();
    const credential = identityEndpointCredential(vault);
    const keys = hsmKeyClient(vault, hsm, credential);
    const created = await keys.createRsaKey('master', { hsm: true });
    assert.equal(created.keyType, 'RSA-HSM');
    assert.match(created.id ?? '', new RegExp(`^https://${hsm}\\.managedhsm\\.localhost:\\d+/keys/master/[0-9a-f]{32}$`), 'the first DNS label of the id is the HSM');
    const seeded = vault.setKey(hsm, 'master', { hsm: true });
    assert.deepEqual(vault.itemVersions('key', hsm, 'master', { hsm: true }), [created.properties.version, seeded.version]);
    assert.deepEqual(vault.itemVersions('key', hsm, 'master'), [], 'the vault of that name has no such key');
    assert.equal((await rejection(sdkClients(vault, hsm).keys.getKey('master'))).statusCode, 404);

    const blob = (await keys.backupKey('master'))!;
    assert.deepEqual(Buffer.from(blob), vault.lastBackupBlob(hsm, 'master', { kind: 'key', hsm: true }));
    const intoVault = await rejection(sdkClients(vault, hsm).keys.restoreKeyBackup(blob));
    assert.equal(intoVault.statusCode, 400);
    assert.equal(intoVault.message, 'Malformed backup blob.', "an HSM's blob is not a vault's");

    await (await keys.beginDeleteKey('master', FAST)).pollUntilDone();
    await keys.purgeDeletedKey('master');
    assert.equal((await rejection(keys.restoreKeyBackup(blob))).statusCode, 409, 'within the linger');
    await sleep(350);
    const restored = await keys.restoreKeyBackup(blob);
    assert.equal(restored.id, seeded.id);
    assert.deepEqual(vault.itemVersions('key', hsm, 'master', { hsm: true }), [created.properties.version, seeded.version]);

    const resources = vault.requests.filter((r) => r.operation === 'token').map((r) => new URL(r.url, 'http://x').searchParams.get('resource'));
    assert.deepEqual([...new Set(resources)].sort(), [HSM_RESOURCE, 'https://vault.azure.net'], 'the HSM challenge made the SDK ask for an HSM token');
    assert.equal(credential.calls(), 1, "one HSM token served the HSM client's calls");
    const itemRecords = vault.requests.filter((r) => r.operation !== 'token');
    assert.ok(itemRecords.filter((r) => r.hsm).every((r) => r.vault === hsm && r.kind === 'key'));
    assert.deepEqual(
      itemRecords.filter((r) => r.hsm && r.status !== 401).map((r) => `${r.operation} ${r.status}`),
      ['set 200', 'backup 200', 'delete 200', 'getDeleted 200', 'purge 204', 'restore 409', 'restore 200'],
    );
  });

  it("answers at the host of its ids, <hsm>.managedhsm.localhost, with a certificate for that name", async function () {
    const hsm = uniqueVault();
    const seeded = vault.setKey(hsm, 'by-host', { hsm: true });
    const idUrl = new URL(seeded.id);
    assert.equal(idUrl.hostname, `${hsm}.managedhsm.localhost`);
    // No resolver maps *.localhost here, so the agent resolves it to loopback itself.
    const agent = new Agent({
      ca: vault.caPem,
      lookup: ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as never,
    });
    try {
      const keys = new KeyClient(idUrl.origin, identityEndpointCredential(vault), { disableChallengeResourceVerification: true, agent });
      assert.equal((await keys.getKey('by-host')).id, seeded.id);
      assert.ok(vault.requests.filter((r) => r.operation === 'get').every((r) => r.hsm === true && r.vault === hsm));
    } finally {
      agent.destroy();
    }
  });
});
