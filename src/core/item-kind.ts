import { BackupError } from './errors.js';

/** What a vault holds that can be backed up and restored: one pipeline is about one of these. */
export type ItemKind = 'secret' | 'key' | 'certificate';

export const ITEM_KINDS: readonly ItemKind[] = ['secret', 'key', 'certificate'];

interface KindInfo {
  /** The REST collection and the permission's prefix: secrets/backup, keys/restore. */
  readonly collection: string;
  /** A 404's stable errorId, per kind, as Az's users would look for it. */
  readonly notFoundId: string;
  /** The role that carries backup and restore of this kind. */
  readonly role: string;
}

export const KIND_INFO: Readonly<Record<ItemKind, KindInfo>> = {
  secret: { collection: 'secrets', notFoundId: 'SecretNotFound', role: 'Key Vault Secrets Officer' },
  key: { collection: 'keys', notFoundId: 'KeyNotFound', role: 'Key Vault Crypto Officer' },
  certificate: { collection: 'certificates', notFoundId: 'CertificateNotFound', role: 'Key Vault Certificates Officer' },
};

export function parseItemKind(value: unknown): ItemKind {
  if (value === undefined || value === null) return 'secret';
  if (typeof value === 'string' && (ITEM_KINDS as readonly string[]).includes(value)) return value as ItemKind;
  throw new BackupError('Protocol', "'kind' must be secret, key or certificate.");
}
