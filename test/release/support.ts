import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
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
  data(): Promise<Buffer>;
}

/** Reads a zip's central directory with yauzl: a reader apart from the writer (yazl), so the two check each other. */
export async function listZip(file: string): Promise<ZipEntry[]> {
  // Strict: names relative, without `..` or backslashes; inflated sizes as recorded.
  const zip = await yauzl.fromBufferPromise(readFileSync(file), { lazyEntries: true, strictFileNames: true, validateEntrySizes: true });
  const entries: ZipEntry[] = [];
  for await (const entry of zip.eachEntry()) {
    entries.push({
      name: entry.fileName,
      mode: entry.externalFileAttributes >>> 16,
      madeByUnix: entry.versionMadeBy >> 8 === 3,
      method: entry.compressionMethod,
      crc: entry.crc32,
      compressedSize: entry.compressedSize,
      size: entry.uncompressedSize,
      data: () => localData(file, zip, entry),
    });
  }
  return entries;
}

// The local header repeats the central record's fields from "version needed" to "name length"
// (APPNOTE 4.3.7 vs 4.3.12); a reader that trusts one and an extractor the other must agree.
const SHARED_FIELDS = ['versionNeededToExtract', 'generalPurposeBitFlag', 'compressionMethod', 'lastModFileTime', 'lastModFileDate', 'crc32', 'compressedSize', 'uncompressedSize', 'fileNameLength'] as const;

async function localData(file: string, zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const local = await zip.readLocalFileHeaderPromise(entry);
  const differing: string[] = SHARED_FIELDS.filter((field) => local[field] !== entry[field]);
  if (!local.fileName.equals(entry.fileNameRaw)) differing.push('fileName');
  if (differing.length > 0) throw new Error(`${file}: ${entry.fileName}: the local header disagrees with its central record on ${differing.join(', ')}`);
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw new Error(`${file}: ${entry.fileName}: compression method ${entry.compressionMethod}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
