import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
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

  /** Synchronous, so it can run in a signal handler right before exiting. */
  removeAll(): void {
    for (const file of this.live) {
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // Nothing more can be done while exiting.
      }
    }
  }
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

/** The refusal to replace an existing file without force, wherever it is noticed. */
export function fileExistsError(target: string): BackupError {
  return new BackupError('FileExists', `The file '${target}' already exists; give -Force (--force on the command line) to replace it.`, { code: 'EEXIST' });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BackupError('Network', 'The backup was cancelled.', { code: 'Aborted' });
}

/**
 * Writes bytes so that the target either has all of them or is untouched:
 * temp file (exclusive, owner-only), write, fsync, then rename (force) or
 * hard-link (no force: fails if the target appeared meanwhile, never clobbers).
 *
 * The quick metadata calls (open, write, close, link, unlink) are made
 * synchronously and only the two fsyncs go to the thread pool: a whole vault
 * is thousands of small files, and a thread-pool round trip per call cost more
 * than the calls themselves.
 */
export async function writeFileAtomic(target: string, bytes: Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const mode = options.mode ?? 0o600;
  const temp = tempNameFor(target);
  throwIfAborted(options.signal);
  options.registry?.add(temp);
  try {
    try {
      const fd = fs.openSync(temp, 'wx', mode);
      try {
        let written = 0;
        while (written < bytes.byteLength) written += fs.writeSync(fd, bytes, written, bytes.byteLength - written);
        await fsyncAsync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (error) {
      throw ioError(target, error);
    }
    throwIfAborted(options.signal);
    if (options.force) {
      try {
        fs.renameSync(temp, target);
      } catch (error) {
        throw ioError(target, error);
      }
    } else {
      linkExclusive(temp, target);
    }
    await directorySyncs.sync(path.dirname(target));
  } finally {
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // Left behind only if it cannot be removed at all; it is hidden and owner-only.
    }
    options.registry?.delete(temp);
  }
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

function linkExclusive(temp: string, target: string): void {
  try {
    fs.linkSync(temp, target);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw fileExistsError(target);
    }
    // Some file systems (FAT, some network shares) have no hard links. Fall
    // back to an existence check and rename: the race is then only with
    // another writer in the same instant, and the bytes are still all-or-nothing.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') {
      throw ioError(target, error);
    }
  }
  if (fs.lstatSync(target, { throwIfNoEntry: false }) !== undefined) {
    throw fileExistsError(target);
  }
  try {
    fs.renameSync(temp, target);
  } catch (error) {
    throw ioError(target, error);
  }
}

/**
 * Makes renames durable on POSIX (Windows cannot open directories; best
 * effort). Group commit: one fsync covers every rename made before it
 * started, so concurrent backups into one folder share a sync instead of
 * queueing one each; a caller always waits for a sync that began after its
 * own rename.
 */
export class DirectorySyncs {
  private readonly dirs = new Map<string, { tail: Promise<void>; next: Promise<void> | undefined }>();

  constructor(private readonly fsyncDirectory: (dir: string) => Promise<void> = fsyncDirectoryBestEffort) {}

  sync(dir: string): Promise<void> {
    let state = this.dirs.get(dir);
    if (state === undefined) {
      state = { tail: Promise.resolve(), next: undefined };
      this.dirs.set(dir, state);
    }
    if (state.next !== undefined) return state.next;
    const s = state;
    const next: Promise<void> = s.tail
      .then(() => {
        // From here on a new rename needs a later sync than this one.
        s.next = undefined;
        return this.fsyncDirectory(dir);
      })
      .finally(() => {
        if (s.tail === next && s.next === undefined) this.dirs.delete(dir);
      });
    s.next = next;
    s.tail = next;
    return next;
  }
}

const directorySyncs = new DirectorySyncs();

async function fsyncDirectoryBestEffort(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    await fsyncAsync(fd);
  } catch {
    // Best effort only.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
