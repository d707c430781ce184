import { strict as assert } from 'node:assert';
import { composeFailureMessage } from '../../../src/protocol/failure-message.js';

describe('the failure message of a result', () => {
  const reason = 'Secret not found: db-password.';

  it('names the vault and the secret after the reason, for a request by names', () => {
    assert.equal(composeFailureMessage(reason, { vaultName: 'myvault', name: 'db-password' }), "Secret not found: db-password. (vault 'myvault', secret 'db-password')");
  });

  it('reads the vault and the secret from a secret identifier, with or without a version', () => {
    for (const secretId of ['https://myvault.vault.azure.net/secrets/db-password', 'https://myvault.vault.azure.net/secrets/db-password/0123456789abcdef', 'https://MyVault.vault.azure.cn:443/secrets/db-password/']) {
      const vault = new URL(secretId).hostname.split('.')[0];
      assert.equal(composeFailureMessage(reason, { secretId }), `${reason} (vault '${vault}', secret 'db-password')`, secretId);
    }
  });

  it('decodes an escaped secret name from the identifier', () => {
    assert.equal(composeFailureMessage(reason, { secretId: 'https://myvault.vault.azure.net/secrets/db%2Dpassword' }), `${reason} (vault 'myvault', secret 'db-password')`);
  });

  it('quotes an identifier it cannot read as given, never failing itself', () => {
    for (const secretId of ['not a uri', 'https://myvault.vault.azure.net/keys/k', 'https://myvault.vault.azure.net/secrets/', 'https://myvault.vault.azure.net/secrets/%E0%A4%A']) {
      assert.equal(composeFailureMessage(reason, { secretId }), `${reason} (secret '${secretId}')`, secretId);
    }
  });

  it('prefers the names when a request has both names and an identifier', () => {
    assert.equal(composeFailureMessage(reason, { vaultName: 'a1b', name: 'x', secretId: 'https://other.vault.azure.net/secrets/y' }), `${reason} (vault 'a1b', secret 'x')`);
  });

  it('is the reason alone when the request is unknown or names nothing', () => {
    assert.equal(composeFailureMessage(reason, undefined), reason);
    assert.equal(composeFailureMessage(reason, {}), reason);
    assert.equal(composeFailureMessage(reason, { vaultName: 'myvault' }), reason, 'a vault without a secret is not enough to name one');
  });

  it('names the kind of item of the pipeline, and a Managed HSM as one', () => {
    assert.equal(composeFailureMessage('No.', { kind: 'key', vaultName: 'v1x', name: 'k' }), "No. (vault 'v1x', key 'k')");
    assert.equal(composeFailureMessage('No.', { kind: 'key', hsmName: 'hsm1', name: 'k' }), "No. (Managed HSM 'hsm1', key 'k')");
    assert.equal(composeFailureMessage('No.', { kind: 'certificate', vaultName: 'v1x', name: 'c' }), "No. (vault 'v1x', certificate 'c')");
  });

  it('names the vault and the backup file of a restore, whose item is not known before the vault reads it', () => {
    assert.equal(composeFailureMessage('No.', { kind: 'secret', vaultName: 'v1x', inputFile: '/b/f.blob' }), "No. (vault 'v1x', file '/b/f.blob')");
    assert.equal(composeFailureMessage('No.', { kind: 'key', hsmName: 'hsm1', inputFile: '/b/k.blob' }), "No. (Managed HSM 'hsm1', file '/b/k.blob')");
  });
});
