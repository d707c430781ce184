import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { exeName, repoRoot } from '../support/paths.js';
import { runProcess } from '../support/spawn.js';

export { exeName, packageVersion } from '../support/paths.js';

export const MODULE_NAME = 'Az.KeyVault.Backup';
export const RIDS = ['linux-x64', 'linux-arm64', 'win-x64', 'darwin-x64', 'darwin-arm64'] as const;
export type Rid = (typeof RIDS)[number];

/** The folder `npm run release` wrote (the test command runs it first). */
export function releaseDir(): string {
  const dir = process.env['AZKVB_RELEASE_DIR'] ?? join(repoRoot(), 'dist', 'release');
  if (!existsSync(join(dir, 'SHA256SUMS'))) throw new Error(`${dir} holds no release: run \`npm run release\` first`);
  return dir;
}

/** The executable as it ships: inside the platform's own module folder. */
export function packagedExe(rid: Rid): string {
  return join(releaseDir(), rid, MODULE_NAME, 'bin', rid, exeName(rid));
}

export interface ZipEntry {
  name: string;
  /** Unix st_mode from the external attributes (host Unix only). */
  mode: number;
  madeByUnix: boolean;
  method: number;
  size: number;
  compressedSize: number;
  crc: number;
  /** The entry's bytes as an extractor gets them: after checking the local header agrees with the central record. */
  data(): Buffer;
}

/** Reads a zip's central directory: written independently of build/zip.mjs, so the two check each other. */
export function listZip(file: string): ZipEntry[] {
  const buf = readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: no end-of-central-directory record`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central header ${i}`);
    const madeBy = buf.readUInt16LE(p + 4);
    const nameLength = buf.readUInt16LE(p + 28);
    const extraLength = buf.readUInt16LE(p + 30);
    const commentLength = buf.readUInt16LE(p + 32);
    const localOffset = buf.readUInt32LE(p + 42);
    const central = buf.subarray(p, p + 46);
    if (buf.readUInt32LE(localOffset) !== 0x04034b50) throw new Error(`${file}: entry ${i} points at no local header`);
    entries.push({
      name: buf.subarray(p + 46, p + 46 + nameLength).toString('utf8'),
      mode: buf.readUInt32LE(p + 38) >>> 16,
      madeByUnix: madeBy >> 8 === 3,
      method: buf.readUInt16LE(p + 10),
      crc: buf.readUInt32LE(p + 16),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      data: () => localData(file, buf, localOffset, central),
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

// The local header repeats the central record's fields from "version needed" to "name length"
// (APPNOTE 4.3.7 vs 4.3.12); a reader that trusts one and an extractor the other must agree.
function localData(file: string, buf: Buffer, at: number, central: Buffer): Buffer {
  const local = buf.subarray(at, at + 30);
  if (!local.subarray(4, 28).equals(central.subarray(6, 30))) throw new Error(`${file}: local header at ${at} disagrees with its central record`);
  const start = at + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const payload = buf.subarray(start, start + local.readUInt32LE(18));
  const method = local.readUInt16LE(8);
  if (method === 0) return payload;
  if (method === 8) return inflateRawSync(payload);
  throw new Error(`${file}: compression method ${method}`);
}

export interface Captured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a program with its standard streams on files, not pipes: Wine hands a pipe to a Windows
 * program as an invalid handle (Node fails with EBADF). Asynchronous, because the local vault
 * serving the program lives in this process.
 */
export async function runCaptured(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000, input = ''): Promise<Captured> {
  const { code, signal, ms, stdout, stderr } = await runProcess(cmd, args, { env, stdin: input, capture: 'files', timeoutMs });
  return { code, signal, ms, stdout, stderr };
}

/** How to start a foreign executable on this linux-x64 machine, or why it cannot be. */
export interface Emulator {
  command: string;
  prefixArgs: string[];
  env: NodeJS.ProcessEnv;
  /** A Linux path as the program sees it. */
  nativePath(p: string): string;
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

function onPath(name: string): string | undefined {
  return firstExisting((process.env['PATH'] ?? '').split(':').filter(Boolean).map((d) => join(d, name)));
}

const HINT = 'Debian packages wine64 qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross (build/ensure-tools.mjs installs them when it can)';

/** Wine with a private prefix set to Windows 10 (Node 22 refuses older versions), made on first use. */
export async function wine(): Promise<Emulator> {
  const command = firstExisting(['/usr/lib/wine/wine64', '/usr/lib/wine/wine']) ?? onPath('wine64') ?? onPath('wine');
  if (!command) throw new Error(`wine is not installed: ${HINT}`);
  const prefix = join(repoRoot(), '.cache', 'wine');
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? tmpdir(), LANG: 'C.UTF-8', WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  if (!existsSync(join(prefix, 'system.reg'))) {
    mkdirSync(prefix, { recursive: true });
    const boot = await runCaptured(command, ['wineboot', '--init'], env, 300_000);
    if (boot.code !== 0) throw new Error(`wineboot failed: ${boot.code} ${boot.stderr.slice(0, 500)}`);
    const cfg = await runCaptured(command, ['winecfg', '-v', 'win10'], env, 120_000);
    if (cfg.code !== 0) throw new Error(`winecfg -v win10 failed: ${cfg.code} ${cfg.stderr.slice(0, 500)}`);
  }
  // Wine shows the Linux file system as drive Z:.
  return { command, prefixArgs: [], env, nativePath: (p) => `Z:${p.replace(/\//g, '\\')}` };
}

export function qemuArm64(): Emulator {
  const command = onPath('qemu-aarch64-static') ?? onPath('qemu-aarch64');
  if (!command) throw new Error(`qemu-aarch64-static is not installed: ${HINT}`);
  const sysroot = '/usr/aarch64-linux-gnu';
  for (const lib of ['lib/ld-linux-aarch64.so.1', 'lib/libstdc++.so.6']) {
    if (!existsSync(join(sysroot, lib))) throw new Error(`${join(sysroot, lib)} is missing: ${HINT}`);
  }
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? tmpdir(), LANG: 'C.UTF-8' };
  return { command, prefixArgs: ['-L', sysroot], env, nativePath: (p) => p };
}
