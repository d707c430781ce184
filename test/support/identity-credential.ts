import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { LocalVault } from './local-vault/index.js';

/**
 * What App Service's managed-identity client does, in a few lines: one GET of the local vault's
 * identity endpoint with its header, per token. For tests that hand a credential to the SDK
 * directly; the executable's own tests use its real credential chain. Counts its calls.
 */
export function identityEndpointCredential(vault: LocalVault): TokenCredential & { calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    async getToken(scopes): Promise<AccessToken> {
      calls++;
      const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
      const url = new URL(vault.identityEndpoint);
      url.searchParams.set('api-version', '2019-08-01');
      url.searchParams.set('resource', scope.replace(/\/\.default$/, ''));
      const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': vault.identityHeader } });
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      const body = (await res.json()) as { access_token: string; expires_on: string };
      return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
    },
  };
}
