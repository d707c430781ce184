// `npm run demo`: the main job, end to end. Builds the executable, then runs
// Backup-AzKeyVaultSecret through pwsh with this module:
//   - against a real vault when AZKVB_DEMO_VAULT and AZKVB_DEMO_SECRET are set
//     (signed in by DefaultAzureCredential: az login, a managed identity, ...);
//   - otherwise against the built-in local vault (HTTPS, real challenge, a
//     managed-identity token endpoint on loopback), checking the bytes.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, exePath } from './build.mjs';
import { ensureTools } from './ensure-tools.mjs';
import { hostRid, repoRoot } from './node-runtime.mjs';

function log(message) {
  process.stderr.write(`[demo] ${message}\n`);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  return result;
}

const tools = ensureTools({ uses: [] });
log('compiling');
const tsc = run(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(1);
await build([]);
log(`executable: ${exePath(hostRid())}`);

const outDir = path.join(repoRoot, 'demo-output');
mkdirSync(outDir, { recursive: true, mode: 0o700 });

const realVault = process.env.AZKVB_DEMO_VAULT;
const realSecret = process.env.AZKVB_DEMO_SECRET;
let vault;
let env = { ...process.env };
let vaultName = realVault;
let secretName = realSecret;
if (!realVault || !realSecret) {
  const { startLocalVault } = await import(pathToFileURL(path.join(repoRoot, 'out', 'test', 'support', 'local-vault', 'index.js')).href);
  vault = await startLocalVault();
  vaultName = 'demo';
  secretName = 'hello';
  vault.setSecret(vaultName, secretName, 'hello from the local vault');
  // Nothing from the developer's own Azure sign-in may be used against the local vault.
  for (const key of Object.keys(env)) if (key.startsWith('AZURE_') || key.startsWith('MSI_')) delete env[key];
  env = { ...env, ...vault.env() };
  log(`no Azure vault configured (AZKVB_DEMO_VAULT/AZKVB_DEMO_SECRET): using the local vault at ${vault.origin}`);
}

// Parameters go to pwsh as arguments of a fixed script, never spliced into code.
const script = [
  'param($Module, $VaultName, $Name, $OutDir)',
  "$ErrorActionPreference = 'Stop'",
  'Import-Module $Module',
  'Backup-AzKeyVaultSecret -VaultName $VaultName -Name $Name -OutputFile $OutDir',
].join('\n');
// Asynchronous on purpose: the local vault answers from this process's event loop.
const result = await new Promise((resolve, reject) => {
  const child = spawn(tools.pwsh, [
    '-NoProfile', '-NonInteractive', '-Command',
    `& { ${script} } @args`,
    path.join(repoRoot, 'Az.KeyVault.Backup.psd1'), vaultName, secretName, outDir,
  ], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.on('error', reject);
  child.on('close', (status) => resolve({ status, stdout }));
});

let code = result.status ?? 1;
const written = result.stdout.trim();
if (code === 0 && written) {
  console.log(written);
  if (vault) {
    const same = Buffer.compare(readFileSync(written), vault.lastBackupBlob(vaultName, secretName)) === 0;
    log(same ? `OK: ${written} holds exactly the bytes the vault returned` : 'MISMATCH: the file differs from the vault\'s answer');
    if (!same) code = 1;
  }
} else {
  log(`Backup-AzKeyVaultSecret failed (exit ${code})`);
  code ||= 1;
}
await vault?.close();
process.exit(code);
