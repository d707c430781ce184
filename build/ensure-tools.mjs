// What the tests need besides the Node that runs npm: Node 22 (the Azure SDK needs it),
// PowerShell 7 and Pester (the module's PowerShell tests), all obtained without leaving the npm
// registry and NuGet; and a few Debian packages (openssl for the local vault's CA, osslsigncode for
// the Windows build, Wine and qemu-user to run the Windows and arm64 builds), installed with
// apt-get when this user can, so a fresh CI machine with only Node, npm and dotnet can run the
// whole suite.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode, repoRoot } from './node-runtime.mjs';

export const PWSH_VERSION = '7.6.9';
export const PESTER_VERSION = '6.2.0';
// SHA-512 of pester.6.2.0.nupkg as NuGet serves it (base64, the form of NuGet's packageHash),
// pinned when this version was chosen: a download that differs is refused.
const PESTER_SHA512 = 'SVQVS0NU4qpAF/2m70omX2J88D/sM8udIDu+PETFMgW6MIxtpFp33HAtT099A568hF3pvzprQu/7TI9UfPTsQg==';
// NuGet's v3 package content (flat container) address: {id}/{version}/{id}.{version}.nupkg, lower case.
const NUGET_PACKAGE_BASE = 'https://api.nuget.org/v3-flatcontainer';
/** Where Pester is unpacked; test/module's files are run with Import-Module of its Pester.psd1. */
export const PESTER_DIR = path.join(repoRoot, '.tools', 'Modules', 'Pester', PESTER_VERSION);

function log(message) {
  process.stderr.write(`[ensure-tools] ${message}\n`);
}

function pwshVersion(command) {
  const result = spawnSync(command, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', '$PSVersionTable.PSVersion.ToString()'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error || result.status !== 0) return undefined;
  return result.stdout.trim();
}

function findOnPath(name) {
  const names = process.platform === 'win32' ? [`${name}.exe`, `${name}.cmd`] : [name];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const candidate of names) {
      const full = path.join(dir, candidate);
      if (dir && existsSync(full)) return full;
    }
  }
  return undefined;
}

function usable(command) {
  const version = command && existsSync(command) ? pwshVersion(command) : undefined;
  return version?.startsWith('7.') ? version : undefined;
}

export function ensurePwsh() {
  const exe = process.platform === 'win32' ? 'pwsh.exe' : 'pwsh';
  const localTool = path.join(repoRoot, '.tools', 'pwsh', exe);
  const candidates = [findOnPath('pwsh'), path.join(os.homedir(), '.dotnet', 'tools', exe), localTool];
  for (const candidate of candidates) {
    const version = usable(candidate);
    if (version) return candidate;
  }

  const dotnet = findOnPath('dotnet');
  if (!dotnet) {
    throw new Error(
      'PowerShell 7 was not found (PATH, ~/.dotnet/tools, .tools/pwsh) and dotnet is not on PATH to install it.\n' +
        `Install the .NET SDK (8 or later), or PowerShell ${PWSH_VERSION}, and try again.`,
    );
  }
  // Repo-local rather than global: CI gets a known version without touching the machine's tools.
  log(`installing PowerShell ${PWSH_VERSION} into .tools/pwsh with dotnet tool install ...`);
  const result = spawnSync(dotnet, ['tool', 'install', '--tool-path', path.join(repoRoot, '.tools', 'pwsh'), 'PowerShell', '--version', PWSH_VERSION], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
  });
  if (result.error || result.status !== 0) {
    throw new Error(`dotnet tool install PowerShell ${PWSH_VERSION} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  const version = usable(localTool);
  if (!version) throw new Error(`PowerShell was installed into ${localTool} but does not report a 7.x version`);
  return localTool;
}

// A synchronous fetch, like every other install here: a child Node (fetch is built in from Node 18)
// writes the body to a file. A few tries, for a registry that drops a connection now and then.
const DOWNLOAD = `
const [url, to] = process.argv.slice(1);
let last;
for (let attempt = 1; attempt <= 3; attempt++) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    (await import('node:fs')).writeFileSync(to, Buffer.from(await response.arrayBuffer()));
    process.exit(0);
  } catch (error) {
    last = error;
    await new Promise((resolve) => setTimeout(resolve, 2000 * attempt));
  }
}
process.stderr.write(url + ': ' + last.message + '\\n');
process.exit(1);
`;

function download(url, to) {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', DOWNLOAD, url, to], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  if (result.error || result.status !== 0) throw new Error(`downloading ${url} failed (${result.error?.message ?? `exit ${result.status}`})`);
}

/**
 * Pester, the module's PowerShell test framework, from its NuGet package (the module itself sits in
 * the package's tools/), unpacked into .tools/Modules/Pester/<version>/ unless that is already
 * there; returns its manifest. The stamp holds the package's hash, so a version bump reinstalls.
 */
export function ensurePester(pwsh = ensurePwsh()) {
  const manifest = path.join(PESTER_DIR, 'Pester.psd1');
  const stamp = path.join(PESTER_DIR, '.nupkg-sha512');
  if (existsSync(manifest) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === PESTER_SHA512) return manifest;
  mkdirSync(path.dirname(PESTER_DIR), { recursive: true });
  // Unpacked beside the final place and renamed into it: an interrupted install is never trusted.
  const work = mkdtempSync(`${PESTER_DIR}.partial-`);
  try {
    const id = 'pester';
    const url = `${NUGET_PACKAGE_BASE}/${id}/${PESTER_VERSION}/${id}.${PESTER_VERSION}.nupkg`;
    log(`installing Pester ${PESTER_VERSION} into ${path.relative(repoRoot, PESTER_DIR)} from NuGet ...`);
    // .zip: Expand-Archive takes no other extension.
    const nupkg = path.join(work, `${id}.${PESTER_VERSION}.zip`);
    download(url, nupkg);
    const actual = createHash('sha512').update(readFileSync(nupkg)).digest('base64');
    if (actual !== PESTER_SHA512) throw new Error(`${url} has SHA-512 ${actual}, not the pinned ${PESTER_SHA512}`);
    const unpacked = path.join(work, 'x');
    const result = spawnSync(pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', 'Expand-Archive -LiteralPath $env:AZKVB_NUPKG -DestinationPath $env:AZKVB_UNPACK'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      env: { ...process.env, AZKVB_NUPKG: nupkg, AZKVB_UNPACK: unpacked, POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off' },
      timeout: 120_000,
    });
    if (result.error || result.status !== 0) throw new Error(`unpacking ${path.basename(url)} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr ?? ''}`);
    const moduleDir = path.join(unpacked, 'tools');
    const declared = /ModuleVersion\s*=\s*'([^']*)'/.exec(readFileSync(path.join(moduleDir, 'Pester.psd1'), 'utf8'))?.[1];
    if (declared !== PESTER_VERSION) throw new Error(`the Pester package's manifest says version ${declared}, not ${PESTER_VERSION}`);
    writeFileSync(path.join(moduleDir, '.nupkg-sha512'), `${PESTER_SHA512}\n`);
    rmSync(PESTER_DIR, { recursive: true, force: true });
    renameSync(moduleDir, PESTER_DIR);
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// Each need is a file that proves it is met, and the Debian package that provides it.
const DEBIAN_NEEDS = [
  { package: 'openssl', found: () => findOnPath('openssl') },
  { package: 'ca-certificates', found: () => existsSync('/etc/ssl/certs/ca-certificates.crt') },
  { package: 'tar', found: () => findOnPath('tar') },
  { package: 'gzip', found: () => findOnPath('gzip') },
  { package: 'osslsigncode', use: 'release', found: () => findOnPath('osslsigncode') },
  { package: 'wine64', use: 'emulate', found: () => ['/usr/lib/wine/wine64', '/usr/lib/wine/wine'].some((p) => existsSync(p)) || findOnPath('wine64') },
  { package: 'qemu-user-static', use: 'emulate', found: () => findOnPath('qemu-aarch64-static') },
  { package: 'libc6-arm64-cross', use: 'emulate', found: () => existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1') },
  { package: 'libstdc++6-arm64-cross', use: 'emulate', found: () => existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6') },
  // The Windows suite: PowerShell for Windows needs a console, which `script` gives it as a pty;
  // `ps` finds Windows programs left running in the Wine prefix.
  { package: 'bsdutils', use: 'windows', found: () => findOnPath('script') },
  { package: 'procps', use: 'windows', found: () => findOnPath('ps') },
];

// Needs without `use` are everyone's; 'release' builds the Windows executable, 'emulate' runs the
// Windows and arm64 ones (the tests), 'windows' runs PowerShell for Windows under Wine (with
// 'emulate' for Wine itself). The demo needs none of them.
export function ensureDebianPackages(uses = ['release', 'emulate']) {
  if (process.platform !== 'linux') return [];
  const needs = DEBIAN_NEEDS.filter((need) => !need.use || uses.includes(need.use));
  const missing = needs.filter((need) => !need.found()).map((need) => need.package);
  if (!missing.length) return [];
  const command = `apt-get install -y ${missing.join(' ')}`;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = asRoot ? [] : spawnSync('sudo', ['-n', 'true']).status === 0 ? ['sudo', '-n'] : undefined;
  if (!findOnPath('apt-get') || !sudo) {
    throw new Error(`missing Debian packages: ${missing.join(', ')}. Install them with: sudo ${command}`);
  }
  log(`installing Debian packages: ${missing.join(' ')} ...`);
  const apt = (args) => {
    const [cmd, ...rest] = [...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
    // apt's progress goes to stderr: installing Wine takes a while and should be seen to.
    const result = spawnSync(cmd, rest, { stdio: ['ignore', process.stderr.fd, 'inherit'] });
    if (result.error || result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}); run: sudo ${command}`);
  };
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', ...missing]);
  const still = needs.filter((need) => !need.found()).map((need) => need.package);
  if (still.length) throw new Error(`still missing after apt-get: ${still.join(', ')}`);
  return missing;
}

export function ensureTools({ uses = ['release', 'emulate'] } = {}) {
  ensureDebianPackages(uses);
  const node22 = ensureNode();
  const pwsh = ensurePwsh();
  return { node22, pwsh };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const tools = ensureTools();
  process.stdout.write(`${JSON.stringify({ ...tools, pester: ensurePester(tools.pwsh) }, null, 2)}\n`);
}
