import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BackupError } from './errors.js';

/**
 * Temp files currently being written. The executable removes them when it is
 * stopped (stdin EOF, SIGINT, SIGTERM) so no half-written file is left beside
 * the target; only SIGKILL can leave one, and never under the target's name.
 */
export class TempFileRegistry {
  private readonly live = new Set<string>();
  add(file: string): void { this.live.add(file); }
  delete(file: string): void { this.live.delete(file); }
  list(): string[] { return [...this.live]; }
}

export interface AtomicWriteOptions {
  force: boolean;
  registry?: TempFileRegistry;
  signal?: AbortSignal;
  /** POSIX permission bits; owner-only because a backup is key material. */
  mode?: number;
}

export function tempNameFor(target: string): string {
  // Hidden, next to the target (same file system, so rename is atomic), and
  // recognisably ours so a SIGKILLed run's leftovers can be identified.
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.azkvb-tmp`);
}

function ioError(target: string, error: unknown): BackupError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reasons: Record<string, string> = {
    ENOENT: 'the directory does not exist',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is exceeded',
    EISDIR: 'the path is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENAMETOOLONG: 'the path is too long',
  };
  const reason = (code !== undefined ? reasons[code] : undefined) ?? (error instanceof Error ? error.message : String(error));
  return new BackupError('Io', `Could not write the backup file '${target}': ${reason}.`, { code });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BackupError('Network', 'The backup was cancelled.', { code: 'Aborted' });
}

/**
 * Writes bytes so that the target either has all of them or is untouched:
 * temp file (exclusive, owner-only), write, fsync, then rename (force) or
 * hard-link (no force: fails if the target appeared meanwhile, never clobbers).
 */
export async function writeFileAtomic(target: string, bytes: Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const mode = options.mode ?? 0o600;
  const temp = tempNameFor(target);
  throwIfAborted(options.signal);
  if (!options.force && (await exists(target))) {
    throw new BackupError('FileExists', `The file '${target}' already exists; use -Force to replace it.`, { code: 'EEXIST' });
  }
  let handle: fsp.FileHandle | undefined;
  options.registry?.add(temp);
  try {
    try {
      handle = await fsp.open(temp, 'wx', mode);
      await handle.writeFile(bytes);
      await handle.sync();
      await handle.close();
      handle = undefined;
    } catch (error) {
      throw ioError(target, error);
    }
    throwIfAborted(options.signal);
    if (options.force) {
      try {
        await fsp.rename(temp, target);
      } catch (error) {
        throw ioError(target, error);
      }
    } else {
      await linkExclusive(temp, target);
    }
    await syncDirectory(path.dirname(target));
  } finally {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    options.registry?.delete(temp);
  }
}

async function linkExclusive(temp: string, target: string): Promise<void> {
  try {
    await fsp.link(temp, target);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new BackupError('FileExists', `The file '${target}' already exists; use -Force to replace it.`, { code });
    }
    // Some file systems (FAT, some network shares) have no hard links. Fall
    // back to an existence check and rename: the race is then only with
    // another writer in the same instant, and the bytes are still all-or-nothing.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') {
      throw ioError(target, error);
    }
  }
  if (await exists(target)) {
    throw new BackupError('FileExists', `The file '${target}' already exists; use -Force to replace it.`, { code: 'EEXIST' });
  }
  try {
    await fsp.rename(temp, target);
  } catch (error) {
    throw ioError(target, error);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable on POSIX; Windows cannot open directories.
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort only.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
