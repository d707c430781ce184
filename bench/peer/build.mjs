// Builds the benchmark's in-process peer (bench/peer, a binary module on the Azure SDK for .NET)
// with `dotnet build -c Release` into .cache/bench-peer/out/<hash of the sources>/, and reuses
// that folder while the sources are unchanged. Returns the dll to Import-Module.
//   node bench/peer/build.mjs        prints the dll's path
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
export const PEER_DLL_NAME = 'Bench.PeerKeyVault.dll';
const SOURCE = /\.(cs|csproj|props|targets)$/;

function sourcesHash() {
  const hash = createHash('sha256');
  for (const file of readdirSync(here).filter((f) => SOURCE.test(f)).sort()) {
    hash.update(file).update('\0').update(readFileSync(path.join(here, file))).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function dotnet(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('dotnet', args, {
      cwd: here,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1' },
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
    child.on('error', (error) => reject(new Error(`dotnet could not be started (${error.message}); the peer needs the .NET SDK 10 on PATH`)));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * @returns {Promise<{ dll: string, cached: boolean, ms: number }>} ms is the build's wall time
 *   (0 when the cached build was reused).
 */
export async function buildPeer({ log = () => {} } = {}) {
  const outDir = path.join(repoRoot, '.cache', 'bench-peer', 'out', sourcesHash());
  const dll = path.join(outDir, PEER_DLL_NAME);
  const done = path.join(outDir, '.complete');
  if (existsSync(dll) && existsSync(done)) return { dll, cached: true, ms: 0 };
  rmSync(outDir, { recursive: true, force: true });
  log(`building the peer (bench/peer) with dotnet build -c Release -> ${path.relative(repoRoot, outDir)}`);
  const started = performance.now();
  const result = await dotnet(['build', path.join(here, 'Peer.csproj'), '-c', 'Release', '-o', outDir, '--nologo', '-v', 'q', '-clp:NoSummary']);
  const ms = performance.now() - started;
  if (result.code !== 0 || !existsSync(dll)) throw new Error(`dotnet build of bench/peer failed (exit ${result.code}):\n${result.output}`);
  writeFileSync(done, `${new Date().toISOString()}\n`);
  // Builds of older sources are of no further use.
  for (const old of readdirSync(path.dirname(outDir))) if (old !== path.basename(outDir)) rmSync(path.join(path.dirname(outDir), old), { recursive: true, force: true });
  return { dll, cached: false, ms };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { dll, cached, ms } = await buildPeer({ log: (m) => process.stderr.write(`[bench-peer] ${m}\n`) });
  process.stderr.write(`[bench-peer] ${cached ? 'unchanged sources: reused' : `built in ${(ms / 1000).toFixed(1)} s:`} ${dll}\n`);
  process.stdout.write(`${dll}\n`);
}
