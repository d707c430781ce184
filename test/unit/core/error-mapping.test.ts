import { strict as assert } from 'node:assert';
import { factsOf, mapFailure, restoreConflictOf, toBackupError } from '../../../src/core/error-mapping.js';
import { BackupError, ERROR_KINDS } from '../../../src/core/errors.js';

describe('error mapping', () => {
  const context = { vaultName: 'v', name: 's' };

  it('maps service statuses to kinds and keeps the service code and message', () => {
    const notFound = mapFailure({ statusCode: 404, serviceCode: 'SecretNotFound', serviceMessage: 'A secret with (name/id) s was not found in this key vault.' }, context);
    assert.equal(notFound.kind, 'NotFound');
    assert.equal(notFound.errorId, 'SecretNotFound');
    assert.equal(notFound.category, 'ObjectNotFound');
    assert.equal(notFound.code, 'SecretNotFound');
    assert.equal(notFound.status, 404);
    assert.ok(notFound.message.startsWith('A secret with (name/id) s was not found'));

    const forbidden = mapFailure({ statusCode: 403, serviceCode: 'Forbidden', innerCode: 'AccessDenied', serviceMessage: 'no backup permission' }, context);
    assert.equal(forbidden.kind, 'Forbidden');
    assert.equal(forbidden.code, 'AccessDenied');
    assert.ok(forbidden.message.includes('secrets/backup'));

    assert.equal(mapFailure({ statusCode: 401 }, context).kind, 'Unauthenticated');
    assert.equal(mapFailure({ statusCode: 429, serviceCode: 'Throttled' }, context).kind, 'Throttled');
    assert.equal(mapFailure({ statusCode: 400, serviceCode: 'BadParameter', serviceMessage: "Operation 'backup' is not allowed" }, context).kind, 'Service');
    assert.equal(mapFailure({ statusCode: 503 }, context).kind, 'Service');
  });

  it("maps a certificate's secret refused with 403 to ManagedByCertificate, naming the certificate to back up, never to AccessDenied", () => {
    const refusal = 'Operation "backup" is not allowed on this secret, since it is associated with a certificate. Perform the operation on the corresponding certificate.';
    const byCode = mapFailure({ statusCode: 403, serviceCode: 'Forbidden', innerCode: 'SecretManagedByKeyVault', serviceMessage: refusal }, context);
    assert.equal(byCode.kind, 'ManagedByCertificate');
    assert.equal(byCode.errorId, 'ManagedByCertificate');
    assert.equal(byCode.category, 'InvalidOperation');
    assert.equal(byCode.exitCode, 12);
    assert.equal(byCode.code, 'SecretManagedByKeyVault');
    assert.match(byCode.message, /^Secret 's' in vault 'v' belongs to a Key Vault certificate/);
    assert.ok(byCode.message.includes("Backup-AzKeyVaultCertificate -VaultName 'v' -Name 's'"), byCode.message);
    assert.ok(byCode.message.endsWith(refusal), 'the vault\'s own words close the message');
    assert.ok(!byCode.message.includes('secrets/backup'), 'no permission advice: no role assignment would help');
    // Without the inner code, the service's wording still tells it apart from a missing permission.
    assert.equal(mapFailure({ statusCode: 403, serviceCode: 'Forbidden', serviceMessage: refusal }, context).kind, 'ManagedByCertificate');
    assert.equal(mapFailure({ statusCode: 403, serviceCode: 'Forbidden', innerCode: 'SecretManagedByKeyVault' }).message.startsWith('The secret belongs'), true);
    // The same words with another status are not this refusal.
    assert.equal(mapFailure({ statusCode: 400, serviceMessage: refusal }, context).kind, 'Service');
  });

  it("maps a certificate's key refused with 403 to ManagedByCertificate, and a missing key or certificate to its own NotFound id", () => {
    const keyContext = { vaultName: 'v', name: 'k', kind: 'key' as const };
    const e = mapFailure({ statusCode: 403, innerCode: 'KeyManagedByKeyVault', serviceMessage: 'Operation "backup" is not allowed on this Key, since it is associated with a certificate.' }, keyContext);
    assert.equal(e.errorId, 'ManagedByCertificate');
    assert.match(e.message, /^Key 'k' in vault 'v' belongs to a Key Vault certificate.*includes this key and its secret/);
    assert.equal(mapFailure({ statusCode: 404, serviceCode: 'KeyNotFound' }, keyContext).errorId, 'KeyNotFound');
    assert.equal(mapFailure({ statusCode: 404 }, { ...keyContext, kind: 'certificate' }).errorId, 'CertificateNotFound');
    assert.equal(mapFailure({ statusCode: 404 }, context).errorId, 'SecretNotFound');
    const denied = mapFailure({ statusCode: 403, serviceCode: 'Forbidden', serviceMessage: 'no' }, { vaultName: 'v', kind: 'certificate', operation: 'restore' });
    assert.equal(denied.errorId, 'AccessDenied');
    assert.ok(denied.message.includes("'certificates/restore' permission") && denied.message.includes('Certificates Officer'), denied.message);
  });

  it("maps a restore's 409s and 400 to ItemExists, ItemSoftDeleted and InvalidBackup, each with its category", () => {
    const restore = { vaultName: 'v', kind: 'secret' as const, operation: 'restore' as const };
    const inUse = mapFailure({ statusCode: 409, serviceCode: 'Conflict', serviceMessage: 'Secret s already exists.' }, restore);
    assert.deepEqual([inUse.errorId, inUse.category, inUse.exitCode], ['ItemExists', 'ResourceExists', 14]);
    const deleted = mapFailure({ statusCode: 409, serviceCode: 'Conflict', innerCode: 'ObjectIsDeletedButRecoverable', serviceMessage: 'Secret s is currently in a deleted but recoverable state.' }, restore);
    assert.deepEqual([deleted.errorId, deleted.category, deleted.exitCode], ['ItemSoftDeleted', 'ResourceUnavailable', 15]);
    assert.ok(deleted.message.includes('Undo-AzKeyVaultSecretRemoval') && deleted.message.includes('Remove-AzKeyVaultSecret -InRemovedState'));
    assert.equal(mapFailure({ statusCode: 409, serviceMessage: 'Secret s is currently in a deleted but recoverable state' }, restore).errorId, 'ItemSoftDeleted', 'the wording alone is enough');
    const blob = mapFailure({ statusCode: 400, serviceCode: 'BadParameter', serviceMessage: 'Malformed backup blob.' }, restore);
    assert.deepEqual([blob.errorId, blob.category, blob.exitCode], ['InvalidBackup', 'InvalidData', 16]);
    assert.ok(blob.message.endsWith('Malformed backup blob.'));
    // A backup's 409 or 400 is no restore conflict.
    assert.equal(mapFailure({ statusCode: 409 }, context).kind, 'Service');
    assert.equal(mapFailure({ statusCode: 400 }, context).kind, 'Service');
  });

  it("tells a restore's passing 409 (being recovered or deleted) from a name in use and a deleted one", () => {
    assert.equal(restoreConflictOf({ statusCode: 409, innerCode: 'ObjectIsBeingRecovered' }), 'transient');
    assert.equal(restoreConflictOf({ statusCode: 409, serviceMessage: 'Secret s is currently being deleted.' }), 'transient');
    assert.equal(restoreConflictOf({ statusCode: 409, serviceMessage: 'Secret s already exists.' }), 'inUse');
    assert.equal(restoreConflictOf({ statusCode: 409, innerCode: 'ObjectIsDeletedButRecoverable' }), 'softDeleted');
    assert.equal(restoreConflictOf({ statusCode: 400 }), undefined);
  });

  it('maps network faults and cancellations to Network', () => {
    assert.equal(mapFailure({ code: 'ECONNRESET', message: 'socket hang up' }, context).kind, 'Network');
    assert.equal(mapFailure({ code: 'CERT_HAS_EXPIRED' }, context).kind, 'Network');
    for (const code of ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']) {
      assert.equal(mapFailure({ code, message: code }, context).kind, 'Network', code);
    }
    assert.equal(mapFailure({ code: 'EWHATEVER' }, context).kind, 'Internal');
    assert.equal(mapFailure({ name: 'AbortError' }, context).kind, 'Network');
  });

  it('maps a body cut off mid-answer (PARSE_ERROR without a status) to Network, with a status to Service', () => {
    const cut = toBackupError({ name: 'RestError', code: 'PARSE_ERROR', message: 'Error reading response as text: aborted' }, context);
    assert.equal(cut.kind, 'Network');
    assert.equal(cut.code, 'TruncatedResponse');
    assert.match(cut.message, /cut off/);
    assert.equal(toBackupError({ name: 'RestError', code: 'PARSE_ERROR', statusCode: 200, message: 'bad JSON' }, context).kind, 'Service');
  });

  it('maps credential failures to Unauthenticated with one line only', () => {
    const e = mapFailure({ name: 'AggregateAuthenticationError', message: 'ChainedTokenCredential failed.\n  at stack\n  at more' });
    assert.equal(e.kind, 'Unauthenticated');
    assert.ok(!e.message.includes('\n'));
  });

  it('reads the facts off a RestError-like object including the nested cause', () => {
    const facts = factsOf({
      name: 'RestError',
      statusCode: 404,
      details: { error: { code: 'SecretNotFound', message: 'gone', innerError: { code: 'Inner' } } },
    });
    assert.deepEqual(facts, { name: 'RestError', statusCode: 404, serviceCode: 'SecretNotFound', serviceMessage: 'gone', innerCode: 'Inner' });
    assert.equal(factsOf({ code: 'REQUEST_SEND_ERROR', cause: { code: 'ECONNREFUSED' } }).code, 'ECONNREFUSED');
    assert.deepEqual(factsOf('boom'), { message: 'boom' });
  });

  it('passes BackupErrors through and maps everything else', () => {
    const original = new BackupError('FileExists', 'exists');
    assert.equal(toBackupError(original), original);
    assert.equal(toBackupError(new Error('x')).kind, 'Internal');
  });

  it('gives every kind a distinct exit code and error id', () => {
    const codes = Object.values(ERROR_KINDS).map((k) => k.exitCode);
    assert.equal(new Set(codes).size, codes.length);
    assert.ok(!codes.includes(0));
  });
});
