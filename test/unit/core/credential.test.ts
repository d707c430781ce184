import { strict as assert } from 'node:assert';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { BackupCredential, isTransientSignInFailure } from '../../../src/core/credential.js';
import { silentLogger } from '../../../src/core/logger.js';

const HOUR = 3_600_000;

function chain(answers: Array<AccessToken | Error>): { factory: () => Promise<TokenCredential>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    factory: async () => ({
      getToken: async () => {
        const answer = answers[Math.min(calls++, answers.length - 1)]!;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    }),
  };
}

describe('the backup credential', () => {
  it('uses a supplied token only for the resource it was issued for', async () => {
    const own = chain([{ token: 'own', expiresOnTimestamp: Date.now() + HOUR }]);
    const credential = new BackupCredential(silentLogger, own.factory);
    credential.supply({ token: 'az-context', expiresOnTimestamp: Date.now() + HOUR, resource: 'https://vault.azure.net' });
    assert.equal((await credential.getToken('https://vault.azure.net/.default'))?.token, 'az-context');
    assert.equal((await credential.getToken('https://vault.azure.net//.default'))?.token, 'az-context');
    // A challenge naming another resource never gets the Az context's token.
    assert.equal((await credential.getToken('https://evil.example/.default'))?.token, 'own');
    assert.equal(own.calls(), 1);
  });

  it("never answers a Managed HSM's challenge with the Az context's Key Vault token, also when it was asked for first", async () => {
    const own = chain([{ token: 'own-hsm', expiresOnTimestamp: Date.now() + HOUR }]);
    const credential = new BackupCredential(silentLogger, own.factory, Date.now, { askBeforeFirstToken: true, tokenRequestTimeoutMs: 2_000 });
    let asked = 0;
    credential.enableTokenRequests(() => {
      asked++;
      // The module answers as it does: its context's Key Vault token, saying for which resource.
      credential.supply({ token: 'az-vault', expiresOnTimestamp: Date.now() + HOUR, resource: 'https://vault.azure.net' });
    });
    assert.equal((await credential.getToken('https://managedhsm.azure.net/.default'))?.token, 'own-hsm');
    assert.equal(asked, 1);
    assert.equal((await credential.getToken('https://vault.azure.net/.default'))?.token, 'az-vault', 'the vault still gets the context token');
  });

  it('remembers a failed sign-in for a while, not for ever', async () => {
    let now = 1_000_000;
    const unavailable = Object.assign(new Error('nothing here'), { name: 'CredentialUnavailableError' });
    const own = chain([unavailable, unavailable, { token: 'later', expiresOnTimestamp: now + 10 * HOUR }]);
    const credential = new BackupCredential(silentLogger, own.factory, () => now);
    await assert.rejects(credential.getToken('https://vault.azure.net/.default'), (e: unknown) => (e as { errorId?: string }).errorId === 'AuthenticationFailed');
    await assert.rejects(credential.getToken('https://vault.azure.net/.default'));
    assert.equal(own.calls(), 1, 'the second item fails at once with the remembered error');
    now += 61_000;
    await assert.rejects(credential.getToken('https://vault.azure.net/.default'));
    assert.equal(own.calls(), 2, 'a minute later the chain is tried again');
  });

  it('tells failures that may pass from "no credential here"', () => {
    assert.equal(isTransientSignInFailure(Object.assign(new Error('x'), { name: 'CredentialUnavailableError' })), false);
    assert.equal(isTransientSignInFailure({ name: 'AggregateAuthenticationError', errors: [{ name: 'CredentialUnavailableError' }, { name: 'CredentialUnavailableError' }] }), false);
    assert.equal(isTransientSignInFailure({ name: 'AuthenticationError', statusCode: 503, message: 'busy' }), true);
    assert.equal(isTransientSignInFailure({ name: 'AuthenticationError', statusCode: 401, message: 'AADSTS7000215: Invalid client secret' }), false);
    assert.equal(isTransientSignInFailure({ name: 'AggregateAuthenticationError', errors: [{ name: 'CredentialUnavailableError' }, { name: 'AuthenticationError', message: 'connect ECONNREFUSED 127.0.0.1:1' }] }), true);
    assert.equal(isTransientSignInFailure('boom'), false);
  });
});
