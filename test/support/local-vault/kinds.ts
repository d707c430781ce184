import type { ItemKind } from './types.js';

export const ITEM_KINDS: readonly ItemKind[] = ['secret', 'key', 'certificate'];

/** 'hsm' is a Managed HSM's key space; everything else lives in a vault. */
export type Space = 'vault' | 'hsm';

/** The capitalised word the service's messages use ("Secret x already exists"). */
export function title(kind: ItemKind): string {
  return kind === 'secret' ? 'Secret' : kind === 'key' ? 'Key' : 'Certificate';
}

/** Path collections of each kind: `/secrets`, and `/deletedsecrets` for its soft-deleted items. */
export const COLLECTIONS: Readonly<Record<string, { kind: ItemKind; deleted: boolean }>> = {
  secrets: { kind: 'secret', deleted: false },
  keys: { kind: 'key', deleted: false },
  certificates: { kind: 'certificate', deleted: false },
  deletedsecrets: { kind: 'secret', deleted: true },
  deletedkeys: { kind: 'key', deleted: true },
  deletedcertificates: { kind: 'certificate', deleted: true },
};

/**
 * Blob prefixes: the secret one is the service's (tests and the benchmark check it); the others are
 * this stand-in's own, distinct so a blob of one kind is refused by another's restore.
 */
export function backupPrefix(kind: ItemKind, space: Space): string {
  if (space === 'hsm') return ')AzureManagedHsmKeyBackupV1.microsoft.com';
  return kind === 'secret'
    ? ')AzureKeyVaultSecretBackupV1.microsoft.com'
    : kind === 'key'
      ? ')AzureKeyVaultKeyBackupV1.microsoft.com'
      : ')AzureKeyVaultCertificateBackupV1.microsoft.com';
}
