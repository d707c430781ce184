import { strict as assert } from 'node:assert';
import { restoredCertificate, restoredKey, restoredSecret } from '../../../src/core/restored-item.js';

describe('what a restore reports about the item', () => {
  const created = new Date('2026-11-30T10:00:00Z');
  const updated = new Date('2026-12-01T11:30:00.250Z');
  const common = {
    id: 'https://v1x.vault.azure.net/secrets/db/0123abcd',
    name: 'db',
    version: '0123abcd',
    enabled: true,
    createdOn: created,
    updatedOn: updated,
    recoveryLevel: 'Recoverable+Purgeable',
    tags: { env: 'prod' },
  };

  it('gives a secret its properties, dates as ISO 8601 UTC, and never a value', () => {
    const item = restoredSecret('V1x', { ...common, contentType: 'text/plain', value: 'hunter2' } as never);
    assert.deepEqual(item, {
      kind: 'secret',
      vaultName: 'V1x',
      name: 'db',
      version: '0123abcd',
      id: common.id,
      enabled: true,
      created: '2026-11-30T10:00:00.000Z',
      updated: '2026-12-01T11:30:00.250Z',
      recoveryLevel: 'Recoverable+Purgeable',
      tags: { env: 'prod' },
      contentType: 'text/plain',
    });
    assert.ok(!JSON.stringify(item).includes('hunter2'));
  });

  it('leaves out what the vault did not say, rather than sending nulls', () => {
    assert.deepEqual(restoredSecret('v1x', { name: 'x' }), { kind: 'secret', vaultName: 'v1x', name: 'x' });
    assert.deepEqual(restoredSecret('v1x', { name: 'x', expiresOn: new Date(Number.NaN) }), { kind: 'secret', vaultName: 'v1x', name: 'x' });
  });

  it("gives a key its type, operations and size in bits from the modulus, and whether it is an HSM's", () => {
    const n = new Uint8Array(257);
    n[0] = 0; // sign padding, as some encoders write it
    n[1] = 0xc3;
    const item = restoredKey('v1x', { key: { kty: 'RSA', keyOps: ['sign', 'verify'], n }, properties: { ...common, name: 'k' } }, false);
    assert.equal(item.keySize, 2048);
    assert.equal(item.keyType, 'RSA');
    assert.deepEqual(item.keyOps, ['sign', 'verify']);
    assert.equal(item.isHsm, false);
    assert.equal(restoredKey('h1x', { key: { kty: 'EC-HSM', crv: 'P-256' }, properties: { name: 'e' } }, true).curveName, 'P-256');
    assert.equal(restoredKey('h1x', { key: { kty: 'EC-HSM', crv: 'P-256' }, properties: { name: 'e' } }, true).keySize, undefined);
    assert.equal(restoredKey('h1x', { key: { kty: 'RSA', n: new Uint8Array([0x01, 0, 0]) }, properties: {} }, true).keySize, 17);
  });

  it('gives a certificate its key and secret ids and its thumbprint in upper-case hex', () => {
    const item = restoredCertificate('v1x', {
      keyId: 'https://v1x.vault.azure.net/keys/tls/01',
      secretId: 'https://v1x.vault.azure.net/secrets/tls/01',
      properties: { ...common, name: 'tls', x509Thumbprint: new Uint8Array([0xab, 0x01, 0xff]) },
    });
    assert.equal(item.thumbprint, 'AB01FF');
    assert.equal(item.keyId, 'https://v1x.vault.azure.net/keys/tls/01');
    assert.equal(item.secretId, 'https://v1x.vault.azure.net/secrets/tls/01');
    assert.equal(item.kind, 'certificate');
  });
});
