import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';

import { useSharedVault } from '../support/vault-fixture.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { innerCode, rawRequest, rejection, sdkClients, uniqueVault } from '../support/local-vault/sdk-clients.js';

const FAST = { intervalInMs: 10 };

describe('local Key Vault stand-in: keys, restore conflicts, soft delete and purge, through the real SDK', function () {
  this.timeout(20_000);
  let vault: LocalVault;
  const fixture = useSharedVault();
  beforeEach(() => (vault = fixture.vault));

  it('creates RSA keys with real 2048-bit material and serves them by name, version and in lists', async function () {
    const name = uniqueVault();
    const { keys } = sdkClients(vault, name);
    const first = await keys.createRsaKey('signing', { keySize: 2048 });
    assert.equal(first.keyType, 'RSA');
    assert.match(first.id ?? '', new RegExp(`^https://${name}\\.localhost:\\d+/keys/signing/[0-9a-f]{32}$`));
    assert.equal(Buffer.from(first.key!.n!).length, 256, 'a 2048-bit modulus');
    assert.deepEqual(Buffer.from(first.key!.e!), Buffer.from([1, 0, 1]));
    const second = await keys.createRsaKey('Signing');
    assert.equal((await keys.getKey('SIGNING')).properties.version, second.properties.version, 'the newest version wins, names ignore case');
    assert.equal((await keys.getKey('signing', { version: first.properties.version! })).id, first.id);

    const seeded = vault.setKey(name, 'seeded');
    assert.equal(seeded.id, `${vault.origin.replace('127.0.0.1', `${name}.localhost`)}/keys/seeded/${seeded.version}`);
    const names: string[] = [];
    for await (const props of keys.listPropertiesOfKeys()) names.push(props.name);
    assert.deepEqual(names, ['seeded', 'signing']);
    const versions: string[] = [];
    for await (const props of keys.listPropertiesOfKeyVersions('signing')) versions.push(props.version!);
    assert.deepEqual(versions, [first.properties.version, second.properties.version]);
    assert.deepEqual(vault.itemVersions('key', name, 'signing'), versions);
  });

  it('seeds a thousand keys quickly, all sharing one generated key pair', function () {
    const name = uniqueVault();
    vault.setKey(name, 'warm-up');
    const started = Date.now();
    for (let i = 0; i < 1000; i++) vault.setKey(name, `k-${i}`);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it('backs up a key as a per-call-different blob and restores every version with its ids after delete, purge and the purge linger', async function () {
    vault.setPurgeLinger(400);
    const name = uniqueVault();
    const { keys } = sdkClients(vault, name);
    const v1 = vault.setKey(name, 'rotating', { tags: { owner: 'ops' } });
    const v2 = vault.setKey(name, 'rotating');
    const original = await keys.getKey('rotating');

    const blob = await keys.backupKey('rotating');
    assert.ok(blob);
    assert.deepEqual(Buffer.from(blob), vault.lastBackupBlob(name, 'rotating', { kind: 'key' }), 'the SDK hands back exactly the bytes served');
    assert.notDeepEqual(Buffer.from((await keys.backupKey('rotating'))!), Buffer.from(blob), 'every backup is freshly encrypted');

    const deleted = await (await keys.beginDeleteKey('rotating', FAST)).pollUntilDone();
    assert.equal(deleted.properties.recoveryId, `https://${name}.localhost:${new URL(vault.origin).port}/deletedkeys/rotating`);
    assert.ok(deleted.properties.deletedOn instanceof Date && deleted.properties.scheduledPurgeDate instanceof Date);
    assert.deepEqual(vault.itemVersions('key', name, 'rotating'), [v1.version, v2.version], 'a deleted key keeps its versions');
    await keys.purgeDeletedKey('rotating');
    assert.equal(vault.itemState('key', name, 'rotating'), 'purging');

    // Within the linger: the name is neither found nor deleted, yet a restore is told it exists.
    assert.equal((await rejection(keys.getKey('rotating'))).statusCode, 404);
    assert.equal((await rejection(keys.getDeletedKey('rotating'))).statusCode, 404);
    const early = await rejection(keys.restoreKeyBackup(blob));
    assert.equal(early.statusCode, 409);
    assert.equal(early.code, 'Conflict');
    assert.match(early.message, /^Key rotating already exists\./);

    await sleep(450);
    const restored = await keys.restoreKeyBackup(blob);
    assert.equal(restored.id, original.id, 'the same version id back');
    assert.deepEqual(Buffer.from(restored.key!.n!), Buffer.from(original.key!.n!));
    assert.deepEqual(vault.itemVersions('key', name, 'rotating'), [v1.version, v2.version]);
    assert.deepEqual((await keys.getKey('rotating', { version: v1.version })).properties.tags, { owner: 'ops' });
    assert.equal(vault.itemState('key', name, 'rotating'), 'active');
  });

  it('answers a restore over a name in use with the exact 409 "already exists" body', async function () {
    const name = uniqueVault();
    vault.setKey(name, 'taken');
    const { token } = vault.issueToken();
    const backup = await rawRequest(vault, 'POST', `/${name}/keys/taken/backup?api-version=7.5`, { token });
    assert.equal(backup.status, 200);
    const value = (JSON.parse(backup.body) as { value: string }).value;
    const res = await rawRequest(vault, 'POST', `/${name}/keys/restore?api-version=7.5`, { token, body: { value } });
    assert.equal(res.status, 409);
    assert.deepEqual(JSON.parse(res.body), {
      error: { code: 'Conflict', message: 'Key taken already exists. A key can only be restored into a vault where it does not exist.' },
    });
    assert.equal(vault.requests.at(-1)?.name, 'taken', 'the record names the item of the blob');
  });

  it('answers a restore over a soft-deleted name with 409 ObjectIsDeletedButRecoverable, and recovers the key', async function () {
    const name = uniqueVault();
    const { keys } = sdkClients(vault, name);
    const seeded = vault.setKey(name, 'gone');
    const blob = (await keys.backupKey('gone'))!;
    assert.ok(vault.deleteItem('key', name, 'gone'));

    const err = await rejection(keys.restoreKeyBackup(blob));
    assert.equal(err.statusCode, 409);
    assert.equal(innerCode(err), 'ObjectIsDeletedButRecoverable');
    assert.equal(
      err.message,
      'Key gone is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.',
    );
    const deleted = await keys.getDeletedKey('gone');
    assert.equal(deleted.properties.version, seeded.version);

    const recovered = await (await keys.beginRecoverDeletedKey('gone', FAST)).pollUntilDone();
    assert.equal(recovered.properties.version, seeded.version);
    assert.equal((await keys.getKey('gone')).id, seeded.id);
  });

  it('refuses a blob of another kind, a corrupt one and a garbage one with 400 "Malformed backup blob."', async function () {
    const name = uniqueVault();
    vault.setSecret(name, 'a-secret', 'x');
    vault.setKey(name, 'a-key');
    const { keys, secrets } = sdkClients(vault, name);
    const secretBlob = (await secrets.backupSecret('a-secret'))!;
    const keyBlob = Buffer.from((await keys.backupKey('a-key'))!);
    const corrupt = Buffer.from(keyBlob);
    corrupt[corrupt.length - 30] = corrupt[corrupt.length - 30]! ^ 0x01;

    for (const [what, blob] of [['a secret blob', secretBlob], ['a flipped byte', corrupt], ['garbage', Buffer.from('not a backup')]] as const) {
      const err = await rejection(keys.restoreKeyBackup(blob));
      assert.equal(err.statusCode, 400, what);
      assert.equal(err.code, 'BadParameter', what);
      assert.equal(err.message, 'Malformed backup blob.', what);
    }
    const err = await rejection(secrets.restoreSecretBackup(keyBlob));
    assert.equal(err.message, 'Malformed backup blob.', 'a key blob in a secret restore');
  });

  it('refuses a blob made in a vault of another subscription or geography with 400 "Cannot decrypt backup blob"', async function () {
    const source = uniqueVault();
    const sameScope = uniqueVault();
    const otherGeography = uniqueVault();
    const otherSubscription = uniqueVault();
    vault.setVaultScope(otherGeography, { subscription: '00000000-0000-4000-8000-000000000001', geography: 'europe' });
    vault.setVaultScope(otherSubscription, { subscription: '11111111-1111-4111-8111-111111111111', geography: 'local' });
    vault.setKey(source, 'travelling');
    const blob = (await sdkClients(vault, source).keys.backupKey('travelling'))!;

    for (const target of [otherGeography, otherSubscription]) {
      const { token } = vault.issueToken();
      const res = await rawRequest(vault, 'POST', `/${target}/keys/restore?api-version=7.5`, { token, body: { value: Buffer.from(blob).toString('base64url') } });
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.body), {
        error: { code: 'BadParameter', message: 'Cannot decrypt backup blob: the backup was made in another subscription or geography.' },
      });
    }
    const restored = await sdkClients(vault, sameScope).keys.restoreKeyBackup(blob);
    assert.match(restored.id ?? '', new RegExp(`^https://${sameScope}\\.localhost:\\d+/keys/travelling/`), 'another vault of the same scope takes it, under its own host');
  });

  it("refuses to back up a certificate's key and secret with 403 KeyManagedByKeyVault and SecretManagedByKeyVault", async function () {
    const name = uniqueVault();
    vault.setCertificate(name, 'tls');
    const { token } = vault.issueToken();
    const key = await rawRequest(vault, 'POST', `/${name}/keys/tls/backup?api-version=7.5`, { token });
    assert.equal(key.status, 403);
    assert.deepEqual(JSON.parse(key.body), {
      error: {
        code: 'Forbidden',
        message:
          'Operation "backup" is not allowed on this Key, since it is associated with a certificate. Perform the operation on the corresponding certificate.',
        innererror: { code: 'KeyManagedByKeyVault' },
      },
    });
    const secret = await rawRequest(vault, 'POST', `/${name}/secrets/tls/backup?api-version=7.5`, { token });
    assert.equal(secret.status, 403);
    assert.deepEqual(JSON.parse(secret.body), {
      error: {
        code: 'Forbidden',
        message:
          'Operation "backup" is not allowed on this secret, since it is associated with a certificate. Perform the operation on the corresponding certificate.',
        innererror: { code: 'SecretManagedByKeyVault' },
      },
    });
    const err = await rejection(sdkClients(vault, name).keys.backupKey('tls'));
    assert.equal(err.statusCode, 403);
    assert.equal(innerCode(err), 'KeyManagedByKeyVault');
  });

  it('answers a missing key with 404 KeyNotFound in the service wording, and a missing deleted one with "Deleted Key not found"', async function () {
    const { keys } = sdkClients(vault, uniqueVault());
    const err = await rejection(keys.backupKey('nope'));
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'KeyNotFound');
    assert.match(err.message, /^A key with \(name\/id\) nope was not found in this key vault\./);
    const deleted = await rejection(keys.purgeDeletedKey('nope'));
    assert.equal(deleted.statusCode, 404);
    assert.equal(deleted.code, 'KeyNotFound');
    assert.equal(deleted.message, 'Deleted Key not found');
  });

  it('soft-deletes, recovers, purges and restores secrets, the restore answering without the value', async function () {
    vault.setPurgeLinger(300);
    const name = uniqueVault();
    const { secrets } = sdkClients(vault, name);
    const first = await secrets.setSecret('db', 'one');
    await secrets.setSecret('db', 'two');
    const blob = (await secrets.backupSecret('db'))!;

    const deleted = await (await secrets.beginDeleteSecret('db', FAST)).pollUntilDone();
    assert.equal(deleted.recoveryId, `https://${name}.localhost:${new URL(vault.origin).port}/deletedsecrets/db`);
    assert.equal(deleted.value, undefined);
    const putOverDeleted = await rejection(secrets.setSecret('db', 'three'));
    assert.equal(putOverDeleted.statusCode, 409);
    assert.equal(innerCode(putOverDeleted), 'ObjectIsDeletedButRecoverable');

    await (await secrets.beginRecoverDeletedSecret('db', FAST)).pollUntilDone();
    assert.equal((await secrets.getSecret('db')).value, 'two');
    await (await secrets.beginDeleteSecret('db', FAST)).pollUntilDone();
    await secrets.purgeDeletedSecret('db');
    const early = await rejection(secrets.restoreSecretBackup(blob));
    assert.equal(early.statusCode, 409);
    assert.match(early.message, /^Secret db already exists\./);

    await sleep(350);
    const { token } = vault.issueToken();
    const res = await rawRequest(vault, 'POST', `/${name}/secrets/restore?api-version=7.5`, { token, body: { value: Buffer.from(blob).toString('base64url') } });
    assert.equal(res.status, 200);
    const bundle = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal('value' in bundle, false, 'a restored secret bundle carries no value');
    assert.match(bundle['id'] as string, /\/secrets\/db\/[0-9a-f]{32}$/);
    assert.equal((await secrets.getSecret('db', { version: first.properties.version! })).value, 'one', 'every version back with its id');
  });

  it("refuses the DELETE of a certificate's secret with the recorded 403, and hard-deletes with deleteSecret for old callers", async function () {
    const name = uniqueVault();
    vault.setCertificate(name, 'web');
    const err = await rejection(sdkClients(vault, name).secrets.beginDeleteSecret('web', FAST));
    assert.equal(err.statusCode, 403);
    assert.match(err.message, /^Operation "delete" is not allowed on this secret/);

    vault.setSecret(name, 'plain', 'x');
    vault.deleteSecret(name, 'plain');
    assert.equal(vault.itemState('secret', name, 'plain'), 'absent', 'no soft-deleted state left behind');
  });

  it('records kind and operation for every item route and lets faults match on kind', async function () {
    const name = uniqueVault();
    vault.setKey(name, 'k');
    vault.setSecret(name, 'k', 'same name, other kind');
    const { keys, secrets } = sdkClients(vault, name);
    await secrets.getSecret('k');
    vault.faults.add({ kind: 'key', operation: 'get' }, { kind: 'status', status: 503 });
    vault.clearRequests();

    assert.equal((await secrets.getSecret('k')).value, 'same name, other kind', 'a key fault leaves secrets alone');
    assert.equal((await rejection(keys.getKey('k'))).statusCode, 503);
    await keys.getKey('k');
    const blob = (await keys.backupKey('k'))!;
    await (await keys.beginDeleteKey('k', FAST)).pollUntilDone();
    await keys.purgeDeletedKey('k');
    await rejection(keys.restoreKeyBackup(blob));

    const trail = vault.requests
      .filter((r) => r.status !== 401 && r.operation !== 'token')
      .map((r) => `${r.method} ${r.kind} ${r.operation} ${r.name} ${r.status}${r.fault ? ` ${r.fault}` : ''}`);
    assert.deepEqual(trail, [
      'GET secret get k 200',
      'GET key get k 503 status 503',
      'GET key get k 200',
      'POST key backup k 200',
      'DELETE key delete k 200',
      'GET key getDeleted k 200',
      'DELETE key purge k 204',
      'POST key restore k 409',
    ]);
    assert.ok(vault.requests.every((r) => r.hsm === undefined), 'vault requests are not marked as HSM ones');
  });
});
