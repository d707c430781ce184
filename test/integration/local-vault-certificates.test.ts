import { strict as assert } from 'node:assert';
import { createHash, X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { useSharedVault } from '../support/vault-fixture.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { innerCode, rawRequest, rejection, sdkClients, uniqueVault } from '../support/local-vault/sdk-clients.js';

const FAST = { intervalInMs: 10 };

describe('local Key Vault stand-in: certificates and their managed secret and key, through the real SDK', function () {
  this.timeout(20_000);
  let vault: LocalVault;
  const fixture = useSharedVault();
  beforeEach(() => (vault = fixture.vault));

  it('serves a seeded certificate as a real self-signed X.509 whose secret and key share its version and are managed', async function () {
    const name = uniqueVault();
    const seeded = vault.setCertificate(name, 'web', { tags: { env: 'test' } });
    const { certificates, secrets, keys } = sdkClients(vault, name);

    const cert = await certificates.getCertificate('web');
    assert.equal(cert.properties.id, seeded.id);
    const x509 = new X509Certificate(Buffer.from(cert.cer!));
    assert.equal(x509.subject, 'CN=web');
    assert.ok(x509.verify(x509.publicKey), 'self-signed with its own key');
    assert.deepEqual(Buffer.from(cert.properties.x509Thumbprint!), createHash('sha1').update(Buffer.from(cert.cer!)).digest());
    assert.equal(cert.policy?.subject, 'CN=web');
    assert.deepEqual(cert.properties.tags, { env: 'test' });
    assert.equal(cert.keyId, seeded.id.replace('/certificates/', '/keys/'));
    assert.equal(cert.secretId, seeded.id.replace('/certificates/', '/secrets/'));

    const secret = await secrets.getSecret('web');
    assert.equal(secret.properties.version, seeded.version);
    assert.equal(secret.properties.managed, true);
    assert.equal(secret.properties.contentType, 'application/x-pem-file');
    assert.ok(secret.value?.includes(x509.toString().trim()), 'the secret holds the certificate (and its key) as PEM');
    const key = await keys.getKey('web');
    assert.equal(key.properties.version, seeded.version);
    assert.equal(key.properties.managed, true);
    const jwk = x509.publicKey.export({ format: 'jwk' });
    assert.equal(Buffer.from(key.key!.n!).toString('base64url'), jwk.n, "the key is the certificate's");
  });

  it('imports a certificate through the SDK and lists its versions', async function () {
    const name = uniqueVault();
    const { certificates } = sdkClients(vault, name);
    const first = await certificates.importCertificate('imported', Buffer.from('-----BEGIN CERTIFICATE-----\nnot parsed\n-----END CERTIFICATE-----\n'));
    const second = await certificates.importCertificate('imported', Buffer.from('a second version'));
    assert.notEqual(first.properties.version, second.properties.version);
    const versions: string[] = [];
    for await (const props of certificates.listPropertiesOfCertificateVersions('imported')) versions.push(props.version!);
    assert.deepEqual(versions, [first.properties.version, second.properties.version]);
    assert.deepEqual(vault.itemVersions('secret', name, 'imported'), versions);
    assert.deepEqual(vault.itemVersions('key', name, 'imported'), versions);
    const listed: string[] = [];
    for await (const props of certificates.listPropertiesOfCertificates()) listed.push(props.name!);
    assert.deepEqual(listed, ['imported']);
  });

  it('backs up a certificate and restores it with its secret and key, every version, after delete, purge and the linger', async function () {
    vault.setPurgeLinger(400);
    const name = uniqueVault();
    const v1 = vault.setCertificate(name, 'api');
    const v2 = vault.setCertificate(name, 'api');
    const { certificates, secrets } = sdkClients(vault, name);
    const pem = (await secrets.getSecret('api')).value;

    const blob = (await certificates.backupCertificate('api'))!;
    assert.deepEqual(Buffer.from(blob), vault.lastBackupBlob(name, 'api', { kind: 'certificate' }));
    assert.notDeepEqual(Buffer.from((await certificates.backupCertificate('api'))!), Buffer.from(blob), 'every backup is freshly encrypted');

    const deleted = await (await certificates.beginDeleteCertificate('api', FAST)).pollUntilDone();
    assert.match(deleted.recoveryId ?? '', /\/deletedcertificates\/api$/);
    for (const kind of ['certificate', 'secret', 'key'] as const) assert.equal(vault.itemState(kind, name, 'api'), 'deleted', kind);
    const soft = await rejection(certificates.restoreCertificateBackup(blob));
    assert.equal(soft.statusCode, 409);
    assert.equal(innerCode(soft), 'ObjectIsDeletedButRecoverable');
    assert.match(soft.message, /^Certificate api is currently in a deleted but recoverable state/);

    await certificates.purgeDeletedCertificate('api');
    for (const kind of ['certificate', 'secret', 'key'] as const) assert.equal(vault.itemState(kind, name, 'api'), 'purging', kind);
    const early = await rejection(certificates.restoreCertificateBackup(blob));
    assert.equal(early.statusCode, 409);
    assert.match(early.message, /^Certificate api already exists\./);
    assert.equal((await rejection(certificates.getDeletedCertificate('api'))).statusCode, 404);

    await sleep(450);
    const restored = await certificates.restoreCertificateBackup(blob);
    assert.equal(restored.properties.id, v2.id);
    for (const kind of ['certificate', 'secret', 'key'] as const) {
      assert.deepEqual(vault.itemVersions(kind, name, 'api'), [v1.version, v2.version], kind);
    }
    assert.equal((await secrets.getSecret('api')).value, pem, "the certificate's secret is back with its value");
    const again = await rejection(sdkClients(vault, name).secrets.backupSecret('api'));
    assert.equal(again.statusCode, 403, 'and is still managed');
  });

  it('answers a restore over a certificate in use with the exact 409 body, and a key blob with 400 Malformed', async function () {
    const name = uniqueVault();
    vault.setCertificate(name, 'dup');
    vault.setKey(name, 'plain-key');
    const { token } = vault.issueToken();
    const backup = JSON.parse((await rawRequest(vault, 'POST', `/${name}/certificates/dup/backup?api-version=7.5`, { token })).body) as { value: string };
    const res = await rawRequest(vault, 'POST', `/${name}/certificates/restore?api-version=7.5`, { token, body: backup });
    assert.equal(res.status, 409);
    assert.deepEqual(JSON.parse(res.body), {
      error: { code: 'Conflict', message: 'Certificate dup already exists. A certificate can only be restored into a vault where it does not exist.' },
    });
    const keyBlob = JSON.parse((await rawRequest(vault, 'POST', `/${name}/keys/plain-key/backup?api-version=7.5`, { token })).body) as { value: string };
    const wrong = await rawRequest(vault, 'POST', `/${name}/certificates/restore?api-version=7.5`, { token, body: keyBlob });
    assert.equal(wrong.status, 400);
    assert.deepEqual(JSON.parse(wrong.body), { error: { code: 'BadParameter', message: 'Malformed backup blob.' } });
    assert.deepEqual(
      vault.requests.filter((r) => r.operation === 'restore').map((r) => `${r.kind} ${r.status}`),
      ['certificate 409', 'certificate 400'],
    );
  });

  it('answers a missing certificate with 404 CertificateNotFound', async function () {
    const err = await rejection(sdkClients(vault, uniqueVault()).certificates.backupCertificate('absent'));
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'CertificateNotFound');
    assert.match(err.message, /^A certificate with \(name\/id\) absent was not found in this key vault\./);
  });
});
