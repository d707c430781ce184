import { open } from 'node:fs/promises';
import { abortableSleep } from './abortable-sleep.js';
import { locationOf, vaultOf, type VaultItemClient, type VaultLocation } from './backup.js';
import { BackupError } from './errors.js';
import { factsOf, restoreConflictOf, toBackupError } from './error-mapping.js';
import type { ItemKind } from './item-kind.js';
import type { Logger } from './logger.js';
import type { RestoredItem } from './restored-item.js';

export interface RestoreRequest {
  /** Its pipeline's kind; a secret when absent. */
  kind?: ItemKind;
  vaultName?: string;
  /** A Managed HSM instead of a vault (keys only). */
  hsmName?: string;
  /** Absolute path of the backup file, resolved by whoever took it from the user. */
  inputFile: string;
}

export interface RestoreDependencies {
  clientFor(vaultName: string, location?: VaultLocation): VaultItemClient;
  isAbsolute(file: string): boolean;
  /** The whole file, refused (InvalidBackup) above maxBytes; Node's errors as thrown. */
  readFile(file: string, maxBytes: number): Promise<Uint8Array>;
  logger: Logger;
  sleep?(ms: number, signal?: AbortSignal): Promise<void>;
  /** How long a restore keeps retrying the 409 a vault answers for a few seconds after a purge. */
  purgeWaitMs: number;
  /** The largest backup file sent. */
  maxBackupBytes: number;
}

export const DEFAULT_RESTORE = {
  // The service is recorded lingering 1-5 s after a purge (azure-sdk-for-net#26027).
  purgeWaitMs: 30_000,
  // A retry without a name to look at: enough for the recorded linger, short for a name in use.
  unnamedWaitMs: 6_000,
  firstDelayMs: 500,
  maxDelayMs: 4_000,
  // The same ceiling as a backup's answer: a backup file is that answer, decoded.
  maxBackupBytes: 64 * 1024 * 1024,
} as const;

/** Az's own words for a missing file (Resources.resx), with the path resolved. */
function notFoundMessage(kind: ItemKind, file: string): string {
  const what = kind === 'certificate' ? 'backup file' : `backup ${kind} file`;
  return `Cannot find ${what} '${file}': nothing was sent to the vault.`;
}

/** Reads a backup file, in the error kinds a restore reports. */
async function readBackup(file: string, kind: ItemKind, deps: RestoreDependencies): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await deps.readFile(file, deps.maxBackupBytes);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw new BackupError('InputNotFound', notFoundMessage(kind, file), { code });
    throw new BackupError('Io', `Cannot read the backup file '${file}': ${(error as Error).message}`, { code, errorId: 'ReadFailed' });
  }
  if (bytes.byteLength === 0) {
    throw new BackupError('InvalidBackup', `The file '${file}' is empty: it is not a Key Vault ${kind} backup. Nothing was sent to the vault.`);
  }
  return bytes;
}

/** Reads the whole of a regular file, refusing one above maxBytes before reading it. */
export async function readFileCapped(file: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw Object.assign(new Error(`'${file}' is a directory`), { code: 'EISDIR' });
    if (stat.size > maxBytes) {
      throw new BackupError('InvalidBackup', `The file '${file}' is ${stat.size} bytes, more than any Key Vault backup (${maxBytes} bytes at most): it is not one. Nothing was sent to the vault.`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** The item a 409's message names ("Secret x already exists…"), when it names one readably. */
export function nameInConflict(message: string | undefined, kind: ItemKind): string | undefined {
  const match = new RegExp(`^${kind}\\s+'?([0-9A-Za-z-]{1,127})'?\\s`, 'i').exec(message ?? '');
  return match?.[1];
}

/**
 * Restores one backup file into a vault: validate, read, send; a 409 in the few seconds after a
 * purge is waited out (bounded), every other refusal is one error kind (error-mapping.ts).
 */
export async function restoreItem(request: RestoreRequest, deps: RestoreDependencies, signal?: AbortSignal): Promise<RestoredItem> {
  const kind = request.kind ?? 'secret';
  const vault = vaultOf(request);
  const file = request.inputFile;
  if (typeof file !== 'string' || file.length === 0 || file.includes('\0') || !deps.isAbsolute(file)) {
    throw new BackupError('InvalidArgument', `The input file ${JSON.stringify(file)} must be an absolute path.`);
  }
  if (signal?.aborted) throw new BackupError('Network', 'The restore was cancelled before it started.', { code: 'Aborted' });
  const bytes = await readBackup(file, kind, deps);
  const where = vault.hsm === true ? 'Managed HSM' : 'vault';
  deps.logger.verbose(`Restoring the ${kind} in '${file}' (${bytes.byteLength} bytes) into ${where} '${vault.vaultName}'.`);
  const client = deps.clientFor(vault.vaultName, locationOf(vault));
  const sleep = deps.sleep ?? abortableSleep;
  const started = Date.now();
  let delay: number = DEFAULT_RESTORE.firstDelayMs;
  for (;;) {
    let failure: unknown;
    try {
      const item = await client.restore(kind, bytes, { signal });
      deps.logger.verbose(`Restored ${kind} '${item.name ?? '?'}' into ${where} '${vault.vaultName}'.`);
      return item;
    } catch (error) {
      failure = error;
    }
    const facts = factsOf(failure);
    const conflict = restoreConflictOf(facts);
    const name = nameInConflict(facts.serviceMessage, kind);
    const context = { vaultName: vault.vaultName, kind, operation: 'restore' as const, ...(name !== undefined ? { name } : {}) };
    let budget = 0;
    if (conflict === 'transient') budget = deps.purgeWaitMs;
    else if (conflict === 'inUse') {
      // The same 409 means "in use" and, for a few seconds after a purge, "not yet free": looking
      // tells them apart. Without a name to look at (or leave to look), a short wait covers the purge.
      let present: boolean | undefined;
      if (name !== undefined) {
        try {
          present = await client.exists(kind, name, { signal });
        } catch (error) {
          if ((error as Error).name === 'AbortError') throw toBackupError(error, context);
          present = undefined;
        }
      }
      budget = present === true ? 0 : present === false ? deps.purgeWaitMs : Math.min(deps.purgeWaitMs, DEFAULT_RESTORE.unnamedWaitMs);
    }
    const waited = Date.now() - started;
    if (budget === 0 || waited + delay > budget) throw toBackupError(failure, context);
    const why = conflict === 'transient' ? 'the name is being recovered or deleted' : 'nothing of that name is there, so a purge of it is still finishing';
    deps.logger.verbose(
      `The vault answered 409 for restoring ${name !== undefined ? `${kind} '${name}'` : `the ${kind} in '${file}'`}: ${why}. Retrying in ${delay / 1000} s.`,
    );
    try {
      await sleep(delay, signal);
    } catch (error) {
      throw toBackupError(error, context);
    }
    delay = Math.min(delay * 2, DEFAULT_RESTORE.maxDelayMs);
  }
}
