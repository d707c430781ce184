import { BackupError } from './errors.js';
import { toBackupError } from './error-mapping.js';
import { fileExistsError, writeFileAtomic, type TempFileRegistry } from './atomic-write.js';
import { resolveTarget } from './file-name.js';
import type { ItemKind } from './item-kind.js';
import { validateSecretName, validateVaultName } from './names.js';
import type { RestoredItem } from './restored-item.js';
import { parseSecretId, type SecretReference, type VaultAddressing } from './vault-address.js';
import type { Logger } from './logger.js';

export interface BackupRequest {
  /** What the name names; its pipeline's kind, a secret when absent. */
  kind?: ItemKind;
  vaultName?: string;
  /** A Managed HSM instead of a vault (keys only). */
  hsmName?: string;
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

/** Which endpoint a client talks to: a vault (dnsSuffix only when a secret identifier names another cloud), or a Managed HSM. */
export interface VaultLocation {
  dnsSuffix?: string;
  hsm?: boolean;
}

/** The transport: everything that talks to a vault sits behind this. */
export interface VaultItemClient {
  backup(kind: ItemKind, name: string, options: { signal?: AbortSignal }): Promise<Uint8Array>;
  restore(kind: ItemKind, backup: Uint8Array, options: { signal?: AbortSignal }): Promise<RestoredItem>;
  /** Whether an item of that name exists now (not deleted); a 404 is false, any other failure throws. */
  exists(kind: ItemKind, name: string, options: { signal?: AbortSignal }): Promise<boolean>;
}

export interface BackupDependencies {
  clientFor(vaultName: string, location?: VaultLocation): VaultItemClient;
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

/** The item a request is about: its vault (or Managed HSM, hsm true) and name. */
export interface ItemReference extends SecretReference {
  hsm?: boolean;
}

/** The vault or Managed HSM a request names (vaultName or hsmName, one of them), validated. */
export function vaultOf(request: { kind?: ItemKind; vaultName?: string; hsmName?: string }): { vaultName: string; hsm?: boolean } {
  if (request.hsmName !== undefined) {
    if (request.vaultName !== undefined) throw new BackupError('InvalidArgument', 'Give either a vault name or a Managed HSM name, not both.');
    if ((request.kind ?? 'secret') !== 'key') throw new BackupError('InvalidArgument', `A Managed HSM holds keys only, not ${request.kind ?? 'secret'}s.`);
    return { vaultName: validateVaultName(request.hsmName, 'Managed HSM'), hsm: true };
  }
  return { vaultName: validateVaultName(request.vaultName) };
}

/** Validates a request and names the item it is about, before any I/O. */
export function normaliseRequest(request: BackupRequest, deps: Pick<BackupDependencies, 'addressing' | 'isAbsolute'>): ItemReference {
  const kind = request.kind ?? 'secret';
  let names: ItemReference;
  if (request.secretId !== undefined) {
    if (kind !== 'secret') throw new BackupError('InvalidArgument', `A secret identifier names a secret, not a ${kind}.`);
    if (request.vaultName !== undefined || request.name !== undefined || request.hsmName !== undefined) {
      throw new BackupError('InvalidArgument', 'Give either a secret identifier or a vault and secret name, not both.');
    }
    names = parseSecretId(request.secretId, deps.addressing);
  } else {
    names = { ...vaultOf(request), name: validateSecretName(request.name, kind) };
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

/** Back up one secret, key or certificate to one file: validate, fetch, write atomically. */
export async function backupItem(
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
  const kind = request.kind ?? 'secret';
  deps.logger.verbose(`Backing up ${kind} '${names.name}' from ${names.hsm === true ? 'Managed HSM' : 'vault'} '${names.vaultName}' to '${target}'.`);
  let bytes: Uint8Array;
  try {
    bytes = await deps.clientFor(names.vaultName, locationOf(names)).backup(kind, names.name, { signal });
  } catch (error) {
    throw toBackupError(error, { vaultName: names.vaultName, name: names.name, kind, operation: 'backup' });
  }
  await writeFileAtomic(target, bytes, { force: request.force, registry: deps.registry, signal });
  deps.logger.verbose(`Wrote ${bytes.byteLength} bytes to '${target}'.`);
  return { vaultName: names.vaultName, name: names.name, path: target, bytes: bytes.byteLength };
}

/** Where a client for the named vault must talk to: its Managed HSM, or another cloud's vault. */
export function locationOf(names: { hsm?: boolean; dnsSuffix?: string }): VaultLocation | undefined {
  if (names.hsm === true) return { hsm: true };
  return names.dnsSuffix !== undefined ? { dnsSuffix: names.dnsSuffix } : undefined;
}
