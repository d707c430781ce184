import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'az-keyvault-backup';

/** The repository root: the nearest folder above this file whose package.json is ours (works from test/ and out/test/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json is not ours; keep climbing
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json named ${PACKAGE_NAME} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The .NET-style runtime id the build uses for bin/<rid>/: linux-x64, win-x64, darwin-arm64, ... */
export function runtimeId(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const os = platform === 'win32' ? 'win' : platform;
  return `${os}-${arch}`;
}

/** The executable's file name for a runtime id: with .exe for Windows only. */
export function exeName(rid: string = runtimeId()): string {
  return rid.startsWith('win-') ? `${PACKAGE_NAME}.exe` : PACKAGE_NAME;
}

export function exePath(): string {
  const fromEnv = process.env['AZKVB_EXE'];
  if (fromEnv) return fromEnv;
  return join(repoRoot(), 'bin', runtimeId(), exeName());
}

/** package.json's version: the one version the psd1, the executable and the zip names must carry. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function pwshPath(): string {
  const fromEnv = process.env['AZKVB_PWSH'];
  if (fromEnv) return fromEnv;
  const dotnetTool = join(homedir(), '.dotnet', 'tools', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
  return existsSync(dotnetTool) ? dotnetTool : 'pwsh';
}
