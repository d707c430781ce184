// The benchmark's reference clients, run on Node 22 against the local vault (its address and
// trust come from the environment, as for the executable):
//   --concurrency 16: the lower bound, the SDK's backupSecret with that many in flight;
//   --concurrency 1:  the Az cmdlet's way, one request at a time.
// Each writes the decoded backup to its own owner-only file, like the executable, and prints
// one JSON line: {"ms": <work time>, "ok": n, "failed": n}. With --restore-from DIR it restores
// every file of DIR into the vault instead (restoreSecretBackup), reading each as it goes.
//   node bench/sdk-client.mjs --vault v --names names.json --out DIR --concurrency 16
//   node bench/sdk-client.mjs --vault v --restore-from DIR --concurrency 16
import { readFile, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';

const { values } = parseArgs({
  options: {
    vault: { type: 'string' },
    names: { type: 'string' },
    out: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    'restore-from': { type: 'string' },
  },
});
const restoreFrom = values['restore-from'];
const names = restoreFrom !== undefined ? readdirSync(restoreFrom).sort() : JSON.parse(readFileSync(values.names, 'utf8'));
const concurrency = Number(values.concurrency);
const url = process.env.AZ_KEYVAULT_BACKUP_VAULT_URL.replace('{vault}', values.vault);
const client = new SecretClient(url, new DefaultAzureCredential(), { disableChallengeResourceVerification: true });

const started = performance.now();
let next = 0;
let ok = 0;
let failed = 0;
async function worker() {
  while (next < names.length) {
    const name = names[next++];
    try {
      if (restoreFrom !== undefined) {
        await client.restoreSecretBackup(await readFile(path.join(restoreFrom, name)));
      } else {
        const bytes = await client.backupSecret(name);
        await writeFile(path.join(values.out, `${values.vault}-${name}`), bytes, { mode: 0o600, flag: 'wx' });
      }
      ok++;
    } catch (error) {
      failed++;
      if (failed <= 3) process.stderr.write(`${name}: ${error.code ?? error.name}: ${String(error.message).slice(0, 200)}\n`);
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
console.log(JSON.stringify({ ms: performance.now() - started, ok, failed }));
process.exit(0);
