// The Windows build of PowerShell 7.6.9 and a Wine prefix to run it in, for the Windows-semantics
// suite (test/windows). Both are cached under .cache/windows-pwsh/ and rebuilt only when their
// inputs change:
//   host-<key>/   a self-contained win-x64 publish of build/windows-pwsh (Microsoft.PowerShell.SDK
//                 7.6.9, restored in locked mode against packages.lock.json) with the built-in
//                 modules and powershell.config.json beside pwsh.exe; <key> hashes every input.
//   packages/     the NuGet packages that restore fetched (about 540 MB).
//   prefix/       the Wine prefix, set to Windows 10 (Node 22 refuses older versions).
//   node build/windows-pwsh.mjs     builds what is missing and prints the paths as JSON.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './node-runtime.mjs';

export const WINDOWS_PWSH_VERSION = '7.6.9';
const PROJECT_DIR = path.join(repoRoot, 'build', 'windows-pwsh');
const PROJECT_FILES = ['WindowsPwsh.csproj', 'Program.cs', 'powershell.config.json', 'packages.lock.json'];
const CACHE = path.join(repoRoot, '.cache', 'windows-pwsh');
const PACKAGES = path.join(CACHE, 'packages');
const PREFIX = path.join(CACHE, 'prefix');
// The built-in modules ship in the SDK package but are not published into $PSHOME\Modules.
const MODULES_IN_PACKAGE = ['microsoft.powershell.sdk', WINDOWS_PWSH_VERSION, 'contentFiles', 'any', 'any', 'runtimes', 'win', 'lib', 'net10.0', 'Modules'];

function log(message) {
  process.stderr.write(`[windows-pwsh] ${message}\n`);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new Error(`${cmd}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${result.status ?? result.signal}\n${(result.stdout ?? '').slice(-4000)}${(result.stderr ?? '').slice(-4000)}`);
  }
  return result;
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const full = path.join(dir, name);
    if (dir && existsSync(full)) return full;
  }
  return undefined;
}

/** wine64 and its wineserver, as Debian's wine64 package installs them (not on PATH). */
export function wineTools() {
  const wine = ['/usr/lib/wine/wine64', '/usr/lib/wine/wine'].find((p) => existsSync(p)) ?? findOnPath('wine64') ?? findOnPath('wine');
  const wineserver = ['/usr/lib/wine/wineserver64', '/usr/lib/wine/wineserver'].find((p) => existsSync(p)) ?? findOnPath('wineserver');
  if (!wine || !wineserver) throw new Error('wine64 is not installed (Debian package wine64; build/ensure-tools.mjs installs it when it can)');
  return { wine, wineserver };
}

/** The environment every Wine run of this prefix gets; mscoree stays enabled (.NET needs it). */
export function wineEnv(extra = {}) {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    LANG: 'C.UTF-8',
    WINEPREFIX: PREFIX,
    WINEDEBUG: '-all',
    ...extra,
  };
}

function hostKey() {
  const hash = createHash('sha256');
  hash.update(`Microsoft.PowerShell.SDK ${WINDOWS_PWSH_VERSION}\n`);
  for (const file of PROJECT_FILES) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(path.join(PROJECT_DIR, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Publishes the host unless the cache already has this exact one; returns its folder. */
export function ensureHost() {
  const key = hostKey();
  const hostDir = path.join(CACHE, `host-${key}`);
  const stamp = path.join(hostDir, '.complete');
  if (existsSync(stamp)) return hostDir;
  const dotnet = findOnPath('dotnet');
  if (!dotnet) throw new Error('dotnet is not on PATH: the Windows PowerShell host is built with the .NET SDK (10 or later)');
  const started = Date.now();
  // Built in a scratch copy of the project, so obj/ and bin/ never land in build/.
  const work = path.join(CACHE, `work-${key}`);
  const staging = path.join(CACHE, `staging-${key}`);
  rmSync(work, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const file of PROJECT_FILES) cpSync(path.join(PROJECT_DIR, file), path.join(work, file));
  const env = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1', NUGET_PACKAGES: PACKAGES };
  const project = path.join(work, 'WindowsPwsh.csproj');
  log(`restoring Microsoft.PowerShell.SDK ${WINDOWS_PWSH_VERSION} (locked) ...`);
  run(dotnet, ['restore', project, '--locked-mode', '--packages', PACKAGES], { env });
  log('publishing the self-contained win-x64 host ...');
  run(dotnet, ['publish', project, '--no-restore', '-c', 'Release', '-o', staging, '-p:ContinuousIntegrationBuild=true'], { env });
  cpSync(path.join(PACKAGES, ...MODULES_IN_PACKAGE), path.join(staging, 'Modules'), { recursive: true });
  if (!existsSync(path.join(staging, 'pwsh.exe')) || !existsSync(path.join(staging, 'powershell.config.json'))) {
    throw new Error(`the publish in ${staging} has no pwsh.exe or powershell.config.json`);
  }
  writeFileSync(path.join(staging, '.complete'), `${key}\n`);
  rmSync(hostDir, { recursive: true, force: true });
  renameSync(staging, hostDir);
  rmSync(work, { recursive: true, force: true });
  log(`host ready in ${path.relative(repoRoot, hostDir)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return hostDir;
}

/** Creates the Wine prefix (Windows 10) unless it exists. */
export function ensurePrefix() {
  const stamp = path.join(PREFIX, '.azkvb-win10');
  if (existsSync(stamp)) return PREFIX;
  const { wine, wineserver } = wineTools();
  const started = Date.now();
  rmSync(PREFIX, { recursive: true, force: true });
  mkdirSync(PREFIX, { recursive: true });
  // Only while booting: no prompt to install Wine's Mono or Gecko (a self-contained .NET app needs neither).
  const bootEnv = wineEnv({ WINEDLLOVERRIDES: 'mscoree,mshtml=' });
  log('creating the Wine prefix (wineboot --init) ...');
  run(wine, ['wineboot', '--init'], { env: bootEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  run(wine, ['winecfg', '-v', 'win10'], { env: bootEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  run(wineserver, ['-w'], { env: bootEnv });
  writeFileSync(stamp, 'win10\n');
  log(`prefix ready in ${path.relative(repoRoot, PREFIX)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return PREFIX;
}

/** Everything the Windows suite needs to start PowerShell for Windows under Wine. */
export function ensureWindowsPwsh() {
  const { wine, wineserver } = wineTools();
  const hostDir = ensureHost();
  const prefix = ensurePrefix();
  return { wine, wineserver, prefix, hostDir, pwshExe: path.join(hostDir, 'pwsh.exe') };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(ensureWindowsPwsh(), null, 2)}\n`);
}
