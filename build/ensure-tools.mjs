// What the tests need besides the Node that runs npm: Node 22 (the Azure SDK needs it) and
// PowerShell 7, both obtained without leaving the npm registry and NuGet; and a few Debian packages
// (openssl for the local vault's CA, osslsigncode for the Windows build, Wine and qemu-user to run
// the Windows and arm64 builds), installed with apt-get when this user can, so a fresh CI machine
// with only Node, npm and dotnet can run the whole suite.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode, repoRoot } from './node-runtime.mjs';

export const PWSH_VERSION = '7.6.9';

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
  process.stdout.write(`${JSON.stringify(ensureTools(), null, 2)}\n`);
}
