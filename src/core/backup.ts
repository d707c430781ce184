import { BackupError } from './errors.js';
import { toBackupError } from './error-mapping.js';
import { fileExistsError, writeFileAtomic, type TempFileRegistry } from './atomic-write.js';
import { resolveTarget } from './file-name.js';
import { validateSecretName, validateVaultName } from './names.js';
import { parseSecretId, type SecretReference, type VaultAddressing } from './vault-address.js';
import type { Logger } from './logger.js';

export interface BackupRequest {
  vaultName?: string;
  name?: string;
  /** Alternative to vaultName + name: https://<vault>.<suffix>/secrets/<name>[/<version>] */
  secretId?: string;
  /** Absolute path of the file itself (never read as a directory here). */
  outputFile?: string;
  /** Absolute directory for the default file name. */
  directory?: string;
  force: boolean;
}

export interface BackupOutcome {
  vaultName: string;
  name: string;
  path: string;
  bytes: number;
}

/** The transport: everything that talks to a vault sits behind this. */
export interface SecretBackupClient {
  backup(name: string, options: { signal?: AbortSignal }): Promise<Uint8Array>;
}

export interface BackupDependencies {
  /** A client for the vault; dnsSuffix only when a secret identifier names another cloud. */
  clientFor(vaultName: string, dnsSuffix?: string): SecretBackupClient;
  addressing: VaultAddressing;
  now(): number;
  isAbsolute(file: string): boolean;
  exists(file: string): boolean;
  registry?: TempFileRegistry;
  logger: Logger;
}

/**
 * A file-system probe that cannot fail the backup by itself: a path under a
 * regular file (ENOTDIR), or a directory we may not search, reads as "no such
 * file", and the atomic write then reports the real reason as WriteFailed.
 * Safe for the existence check too: without force the write is exclusive.
 */
function probe(check: (file: string) => boolean, file: string): boolean {
  try {
    return check(file);
  } catch {
    return false;
  }
}

/** Validates a request and names the secret it is about, before any I/O. */
export function normaliseRequest(request: BackupRequest, deps: Pick<BackupDependencies, 'addressing' | 'isAbsolute'>): SecretReference {
  let names: SecretReference;
  if (request.secretId !== undefined) {
    if (request.vaultName !== undefined || request.name !== undefined) {
      throw new BackupError('InvalidArgument', 'Give either a secret identifier or a vault and secret name, not both.');
    }
    names = parseSecretId(request.secretId, deps.addressing);
  } else {
    names = { vaultName: validateVaultName(request.vaultName), name: validateSecretName(request.name) };
  }
  const targets = [request.outputFile, request.directory].filter((t) => t !== undefined);
  if (targets.length !== 1) {
    throw new BackupError('InvalidArgument', 'Give exactly one of an output file or a directory.');
  }
  for (const target of targets) {
    if (typeof target !== 'string' || target.length === 0 || target.includes('\0') || !deps.isAbsolute(target)) {
      throw new BackupError('InvalidArgument', `The path ${JSON.stringify(target)} must be an absolute path.`);
    }
  }
  return names;
}

/** Back up one secret to one file: validate, fetch, write atomically. */
export async function backupSecret(
  request: BackupRequest,
  deps: BackupDependencies,
  signal?: AbortSignal,
): Promise<BackupOutcome> {
  const names = normaliseRequest(request, deps);
  if (signal?.aborted) throw new BackupError('Network', 'The backup was cancelled before it started.', { code: 'Aborted' });
  const target = resolveTarget(request, names, deps.now());
  if (!request.force && probe(deps.exists, target)) {
    // Checked before the request too, so a refused overwrite costs no vault call.
    throw fileExistsError(target);
  }
  deps.logger.verbose(`Backing up secret '${names.name}' from vault '${names.vaultName}' to '${target}'.`);
  let bytes: Uint8Array;
  try {
    bytes = await deps.clientFor(names.vaultName, names.dnsSuffix).backup(names.name, { signal });
  } catch (error) {
    throw toBackupError(error, names);
  }
  await writeFileAtomic(target, bytes, { force: request.force, registry: deps.registry, signal });
  deps.logger.verbose(`Wrote ${bytes.byteLength} bytes to '${target}'.`);
  return { ...names, path: target, bytes: bytes.byteLength };
}
