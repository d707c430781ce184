import { strict as assert } from 'node:assert';
import { decodeBase64Url, encodeBase64Url } from '../../../src/core/base64url.js';
import { BackupError } from '../../../src/core/errors.js';

describe('decoding the backup value', () => {
  it('decodes base64url without padding to the exact bytes', () => {
    const bytes = Buffer.concat([Buffer.from(')AzureKeyVaultSecretBackupV1.microsoft.com'), Buffer.from([0, 255, 254, 62, 63])]);
    const text = bytes.toString('base64url');
    assert.ok(!text.includes('='));
    assert.deepEqual(Buffer.from(decodeBase64Url(text)), bytes);
    assert.equal(encodeBase64Url(bytes), text);
  });

  it('accepts padded input too', () => {
    assert.deepEqual(Buffer.from(decodeBase64Url('YQ==')), Buffer.from('a'));
  });

  it('refuses values that are empty, missing, not base64url, or impossible lengths', () => {
    for (const value of ['', undefined, null, 42, 'ab+c', 'ab/c', 'a b', 'abcde', 'ab=c', '€', '=', '==']) {
      assert.throws(() => decodeBase64Url(value), (e: unknown) => e instanceof BackupError && e.kind === 'Service' && e.code === 'InvalidResponse');
    }
  });
});
