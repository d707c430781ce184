import { strict as assert } from 'node:assert';
import { chainOptionsFor, credentialError, credentialFailureDetails, isMicrosoftAuthorityHost } from '../../../src/core/credential-chain.js';
import { BackupError } from '../../../src/core/errors.js';

describe('the credential chain', () => {
  describe('authority hosts', () => {
    it("knows every cloud's Microsoft Entra authority, in any case and with a path", () => {
      for (const host of ['https://login.microsoftonline.com', 'https://LOGIN.MicrosoftOnline.com/', 'https://login.chinacloudapi.cn', 'https://login.microsoftonline.us/tenant', 'https://login.windows.net', 'https://login.microsoftonline.de']) {
        assert.equal(isMicrosoftAuthorityHost(host), true, host);
      }
    });

    it('does not take a look-alike for a Microsoft host', () => {
      for (const host of ['https://login.microsoftonline.com.evil.example', 'https://evilmicrosoftonline.com', 'https://adfs.contoso.com/adfs', 'https://127.0.0.1:8443']) {
        assert.equal(isMicrosoftAuthorityHost(host), false, host);
      }
    });

    it('leaves a value that is not a URL to the SDK (treated as Microsoft: instance discovery stays on)', () => {
      assert.equal(isMicrosoftAuthorityHost('not a url'), true);
      assert.deepEqual(chainOptionsFor('not a url'), {});
    });

    it('skips instance discovery only for an authority that is set and not Microsoft', () => {
      assert.deepEqual(chainOptionsFor(undefined), {});
      assert.deepEqual(chainOptionsFor('  '), {});
      assert.deepEqual(chainOptionsFor('https://login.microsoftonline.us'), {});
      assert.deepEqual(chainOptionsFor('https://adfs.contoso.com/adfs'), { disableInstanceDiscovery: true });
    });
  });

  describe('the sign-in failure', () => {
    const aggregate = (...errors: object[]) => Object.assign(new Error('ChainedTokenCredential authentication failed.'), { name: 'AggregateAuthenticationError', errors });
    const unavailable = (message: string) => Object.assign(new Error(message), { name: 'CredentialUnavailableError' });

    it('says nothing was available, what was tried and what to do, when every credential was unavailable', () => {
      const error = credentialError(aggregate(unavailable('EnvironmentCredential is unavailable.'), unavailable('ManagedIdentityCredential: no endpoint.')));
      assert.ok(error instanceof BackupError);
      assert.equal(error.kind, 'Unauthenticated');
      assert.equal(error.code, 'AggregateAuthenticationError');
      assert.match(error.message, /^Could not sign in to Azure Key Vault: no credential was available\. No Az context gave a token\. Tried: /);
      assert.match(error.message, /Run Connect-AzAccount/);
    });

    it("puts the caller's note about the Az context in its place", () => {
      assert.match(credentialError(aggregate(unavailable('x')), 'The Az context named prod has no token.').message, /no credential was available\. The Az context named prod has no token\. Tried:/);
    });

    it("names the credential that was found but refused, with the service's AADSTS reason and no trace ids", () => {
      const refused = Object.assign(new Error('ClientSecretCredential authentication failed'), {
        name: 'AuthenticationError',
        errorResponse: { error: 'invalid_client', errorDescription: 'AADSTS7000215: Invalid client secret provided. Trace ID: 1234 Correlation ID: 5678 Timestamp: 2026-01-01' },
      });
      const error = credentialError(aggregate(unavailable('EnvironmentCredential is unavailable.'), refused));
      assert.equal(error.kind, 'Unauthenticated');
      assert.equal(error.code, 'AuthenticationError');
      assert.match(error.message, /a credential was found but signing in with it failed: AADSTS7000215: Invalid client secret provided\. Run Connect-AzAccount/);
      assert.doesNotMatch(error.message, /Trace ID|Correlation ID|Timestamp/);
    });

    it('reads a single (not aggregated) refusal the same way', () => {
      const error = credentialError(Object.assign(new Error('AADSTS700016: Application not found.\nMore details: https://aka.ms/x'), { name: 'AuthenticationRequiredError' }));
      assert.match(error.message, /failed: AADSTS700016: Application not found\. Run/);
    });

    it('passes a BackupError through as it is', () => {
      const original = new BackupError('Unauthenticated', 'already composed');
      assert.equal(credentialError(original), original);
    });

    it('copes with something thrown that is not an Error', () => {
      const error = credentialError('a string');
      assert.equal(error.kind, 'Unauthenticated');
      assert.equal(error.code, 'Error');
    });

    it('gives one line per credential for -Verbose: the first line of each, cut at the SDK troubleshooting links', () => {
      const long = 'x'.repeat(400);
      assert.deepEqual(
        credentialFailureDetails(aggregate(unavailable('EnvironmentCredential is unavailable. To troubleshoot, visit https://aka.ms/x'), unavailable('line one\nline two'), unavailable(long))),
        ['EnvironmentCredential is unavailable.', 'line one', `${'x'.repeat(300)}…`],
      );
      assert.deepEqual(credentialFailureDetails(new Error('alone')), ['alone']);
    });
  });
});
