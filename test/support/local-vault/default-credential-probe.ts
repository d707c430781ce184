// Run as a separate Node process by the tests: proves that DefaultAzureCredential,
// given nothing but IDENTITY_ENDPOINT/IDENTITY_HEADER and NODE_EXTRA_CA_CERTS from
// the environment, gets a managed-identity token from the local vault and that a
// SecretClient then reads a secret. Prints one JSON line; never the value itself.
import { createHash } from 'node:crypto';

import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';

async function main(): Promise<void> {
  const vaultUrl = need('PROBE_VAULT_URL');
  const name = need('PROBE_SECRET_NAME');
  const expected = need('PROBE_EXPECTED_SHA256');
  const credential = new DefaultAzureCredential();
  const client = new SecretClient(vaultUrl, credential, { disableChallengeResourceVerification: true });
  const secret = await client.getSecret(name);
  const digest = createHash('sha256').update(secret.value ?? '').digest('hex');
  process.stdout.write(`${JSON.stringify({ ok: true, valueMatches: digest === expected, name: secret.name })}\n`);
}

function need(variable: string): string {
  const value = process.env[variable];
  if (!value) throw new Error(`${variable} is not set`);
  return value;
}

main().catch((err: unknown) => {
  const e = err as { name?: string; message?: string; statusCode?: number };
  process.stdout.write(`${JSON.stringify({ ok: false, error: e.name, message: e.message, status: e.statusCode })}\n`);
  process.exitCode = 1;
});
