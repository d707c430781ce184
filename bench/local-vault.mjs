// The local vault in its own process, for the benchmark scenarios: the vault answers from another
// process, so nothing a scenario runs (or blocks on) slows its answers.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../build/node-runtime.mjs';

export const VAULT = 'benchvault';

/** This environment without any Azure credential of the developer's, plus `extra`. */
export function cleanEnv(extra) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('AZURE_') || key.startsWith('MSI_') || key.startsWith('IDENTITY_')) delete env[key];
  return { ...env, ...extra };
}

/**
 * Starts the local vault seeded with `count` secrets named as cli.js names them; `children` is the
 * caller's set of processes to end on exit.
 */
export async function startVault(node22, { count, latencyMs, rateLimit, children }) {
  const cli = path.join(repoRoot, 'out', 'test', 'support', 'local-vault', 'cli.js');
  const args = [cli, '--count', String(count), '--vault', VAULT, '--latency-ms', String(latencyMs)];
  if (rateLimit) args.push('--rate-limit', String(rateLimit));
  const child = spawn(node22, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const info = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buffered += d;
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(JSON.parse(buffered.slice(0, end)));
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`local vault exited with ${code}`)));
  });
  const width = Math.max(4, String(count).length);
  return {
    names: Array.from({ length: count }, (_, i) => `secret-${String(i + 1).padStart(width, '0')}`),
    env: {
      NODE_EXTRA_CA_CERTS: info.caFile,
      AZ_KEYVAULT_BACKUP_VAULT_URL: info.vaultUrlTemplate,
      IDENTITY_ENDPOINT: info.identityEndpoint,
      IDENTITY_HEADER: info.identityHeader,
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('close', resolve);
        children.delete(child);
        child.stdin.end();
      }),
  };
}
