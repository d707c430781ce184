import { strict as assert } from 'node:assert';
import { parseSecretId, validateOverride, vaultEndpoint } from '../../../src/core/vault-address.js';
import { BackupError } from '../../../src/core/errors.js';

const publicCloud = { dnsSuffix: 'vault.azure.net' };

function invalid(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof BackupError && e.kind === 'InvalidArgument');
}

describe('vault addresses', () => {
  it('builds https://<vault>.<suffix> with the resource check kept on', () => {
    assert.deepEqual(vaultEndpoint('MyVault', publicCloud), { url: 'https://myvault.vault.azure.net', relaxChallengeResourceCheck: false });
    assert.equal(vaultEndpoint('v12', { dnsSuffix: 'vault.azure.cn' }).url, 'https://v12.vault.azure.cn');
    assert.equal(vaultEndpoint('v12', { dnsSuffix: 'vault.usgovcloudapi.net' }).url, 'https://v12.vault.usgovcloudapi.net');
  });

  it('puts the vault in the host or the path of an explicit override and relaxes the check only then', () => {
    assert.deepEqual(vaultEndpoint('Demo', { dnsSuffix: 'vault.azure.net', override: 'https://{vault}.example.test:8443' }), {
      url: 'https://demo.example.test:8443',
      relaxChallengeResourceCheck: true,
    });
    assert.equal(vaultEndpoint('demo', { dnsSuffix: 'vault.azure.net', override: 'https://127.0.0.1:8443/{vault}/' }).url, 'https://127.0.0.1:8443/demo');
  });

  it('validates the vault name before building any address', () => {
    invalid(() => vaultEndpoint('a/b', publicCloud));
    invalid(() => vaultEndpoint('evil.com#', { dnsSuffix: 'vault.azure.net', override: 'https://{vault}.example.test' }));
  });

  it('refuses overrides that are not https URLs', () => {
    invalid(() => validateOverride('http://127.0.0.1/{vault}'));
    invalid(() => validateOverride('not a url'));
    invalid(() => validateOverride('https://127.0.0.1/{vault}?x=1'));
    assert.equal(validateOverride('https://127.0.0.1:1/{vault}'), 'https://127.0.0.1:1/{vault}');
  });

  it('refuses a DNS suffix that is not a DNS name', () => {
    invalid(() => vaultEndpoint('demo', { dnsSuffix: 'evil.com/path' }));
    invalid(() => vaultEndpoint('demo', { dnsSuffix: '' }));
  });
});

describe('secret identifiers', () => {
  it('reads vault and name from a secret URI, with or without version', () => {
    assert.deepEqual(parseSecretId('https://myvault.vault.azure.net/secrets/mysecret', publicCloud), { vaultName: 'myvault', name: 'mysecret' });
    assert.deepEqual(parseSecretId('https://MyVault.vault.azure.net/secrets/MySecret/0123456789abcdef0123456789abcdef', publicCloud), {
      vaultName: 'myvault', // host names are case-insensitive and URL lower-cases them
      name: 'MySecret',
    });
  });

  it('refuses URIs for another host, scheme or shape', () => {
    for (const id of [
      'https://myvault.evil.com/secrets/s',
      'http://myvault.vault.azure.net/secrets/s',
      'https://myvault.vault.azure.net:8443/secrets/s',
      'https://myvault.vault.azure.net/keys/s',
      'https://myvault.vault.azure.net/secrets/',
      'https://myvault.vault.azure.net/secrets/a%2Fb',
      'https://myvault.vault.azure.net/secrets/../x',
      'https://myvault.vault.azure.net/secrets/s?x=1',
      'https://u:p@myvault.vault.azure.net/secrets/s',
      'https://vault.azure.net/secrets/s',
      'mysecret',
      '',
    ]) {
      invalid(() => parseSecretId(id, publicCloud));
    }
    invalid(() => parseSecretId(null, publicCloud));
  });

  it('accepts a vault of another Azure cloud and says which, so that cloud is addressed', () => {
    assert.deepEqual(parseSecretId('https://myvault.vault.azure.cn/secrets/s', publicCloud), { vaultName: 'myvault', name: 's', dnsSuffix: 'vault.azure.cn' });
    assert.deepEqual(parseSecretId('https://gov1.vault.usgovcloudapi.net/secrets/s', publicCloud), { vaultName: 'gov1', name: 's', dnsSuffix: 'vault.usgovcloudapi.net' });
    assert.deepEqual(parseSecretId('https://cn1.vault.azure.cn/secrets/s', { dnsSuffix: 'vault.azure.cn' }), { vaultName: 'cn1', name: 's' });
    invalid(() => parseSecretId('https://cn1.vault.azure.cn.evil.com/secrets/s', publicCloud));
  });

  it('accepts known cloud hosts when an explicit test address is in use', () => {
    const local = { dnsSuffix: 'vault.azure.net', override: 'https://127.0.0.1:1/{vault}' };
    assert.deepEqual(parseSecretId('https://demo.vault.azure.net/secrets/hello', local), { vaultName: 'demo', name: 'hello' });
    invalid(() => parseSecretId('https://demo.example.com/secrets/hello', local));
    // The URL parser would quietly turn each of these into a plain, different, secret name or host.
    for (const id of [
      'https://myvault.vault.azure.net/secrets/my\tsecret',
      'https://myvault.vault.azure.net/secrets/my\nsecret',
      ' https://myvault.vault.azure.net/secrets/mysecret',
      'https://myvault.vault.azure.net/secrets/mysecret ',
      'https://\uff4dyvault.vault.azure.net/secrets/mysecret',
      'https:\\\\myvault.vault.azure.net\\secrets\\mysecret',
      'https:/myvault.vault.azure.net/secrets/mysecret',
    ]) {
      assert.throws(() => parseSecretId(id, publicCloud), (e: unknown) => e instanceof BackupError && e.kind === 'InvalidArgument', JSON.stringify(id));
    }
    assert.throws(
      () => parseSecretId('https://myvault.vault.azure.net/secrets/a%2Fb', publicCloud),
      (e: unknown) => e instanceof BackupError && e.kind === 'InvalidArgument' && e.message.includes('"https://myvault.vault.azure.net/secrets/a%2Fb"') && e.message.includes('"a%2Fb"'),
    );
  });
});
