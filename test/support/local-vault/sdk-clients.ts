import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';

import type { TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { RestError, SecretClient } from '@azure/keyvault-secrets';

import { identityEndpointCredential } from '../identity-credential.js';
import type { LocalVault } from './types.js';

/**
 * The real SDK clients against the local vault, as the executable builds them: challenge auth with a
 * managed-identity credential, the test CA trusted (never TLS checks turned off). The challenge names
 * vault.azure.net while the host is 127.0.0.1, hence the resource verification is off.
 */
export function sdkClients(vault: LocalVault, vaultName: string, credential: TokenCredential = identityEndpointCredential(vault)) {
  const url = vault.vaultUrlTemplate.replace('{vault}', vaultName);
  const options = { disableChallengeResourceVerification: true, tlsOptions: { ca: vault.caPem }, retryOptions: { maxRetries: 0 } };
  return {
    secrets: new SecretClient(url, credential, options),
    keys: new KeyClient(url, credential, options),
    certificates: new CertificateClient(url, credential, options),
  };
}

export function hsmKeyClient(vault: LocalVault, hsmName: string, credential: TokenCredential = identityEndpointCredential(vault)): KeyClient {
  return new KeyClient(vault.hsmUrlTemplate.replace('{vault}', hsmName), credential, {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: vault.caPem },
    retryOptions: { maxRetries: 0 },
  });
}

export function uniqueVault(): string {
  return `v${randomBytes(6).toString('hex')}`;
}

export async function rejection(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RestError || (err as { name?: string }).name === 'RestError', `expected a RestError, got ${String(err)}`);
    return err as RestError;
  }
  assert.fail('expected the call to fail');
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request as sent, for asserting on exact statuses, headers and bodies. */
export function rawRequest(vault: LocalVault, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<RawAnswer> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = {
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, vault.origin), { method, headers, ca: vault.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export function staticCredential(token: string): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
}

/** The inner error code the SDK parsed out of a service error body. */
export function innerCode(err: RestError): string | undefined {
  return (err.details as { error?: { innerError?: { code?: string } } } | undefined)?.error?.innerError?.code;
}
