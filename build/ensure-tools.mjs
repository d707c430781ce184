// The two runtimes the tests need besides the Node that runs npm: Node 22 (the Azure SDK needs it)
// and PowerShell 7. Both are obtained without leaving the npm registry and NuGet, so a fresh CI
// machine with only Node, npm and dotnet can run the whole suite.
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

export function ensureTools() {
  const node22 = ensureNode();
  const pwsh = ensurePwsh();
  return { node22, pwsh };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(ensureTools(), null, 2)}\n`);
}
