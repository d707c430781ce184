import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const BACKUP_PREFIX = ')AzureKeyVaultSecretBackupV1.microsoft.com';

export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  created: number;
  updated: number;
}

export interface StoredSecret {
  /** The name as first created; lookups ignore case like the service. */
  name: string;
  /** Oldest first. */
  versions: SecretVersion[];
  /** The secret of a Key Vault certificate of the same name (`managed: true`), which the service will not back up alone. */
  managed?: boolean;
}

export interface SetOptions {
  contentType?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  /** Marks the secret as a certificate's (see StoredSecret.managed). */
  managed?: boolean;
}

export type RestoreResult =
  | { ok: true; secret: StoredSecret }
  | { ok: false; reason: 'invalid' | 'exists'; name?: string };

interface BackupPayload {
  name: string;
  versions: SecretVersion[];
}

/**
 * Vaults, secrets and their versions in memory. Backups are really encrypted
 * (AES-256-GCM with a key of this store) so each blob is opaque and different
 * per call, like the service's, and restore needs nothing but the blob.
 */
export class SecretStore {
  private readonly vaults = new Map<string, Map<string, StoredSecret>>();
  private readonly backupKey = randomBytes(32);
  private readonly keyId = randomBytes(16).toString('hex');

  set(vault: string, name: string, value: string, opts: SetOptions = {}): { secret: StoredSecret; version: SecretVersion } {
    const secrets = this.vault(vault, true)!;
    let secret = secrets.get(name.toLowerCase());
    if (!secret) {
      secret = { name, versions: [] };
      secrets.set(name.toLowerCase(), secret);
    }
    const now = Math.floor(Date.now() / 1000);
    const version: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value,
      enabled: opts.enabled ?? true,
      created: now,
      updated: now,
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
      ...(opts.tags !== undefined ? { tags: opts.tags } : {}),
    };
    secret.versions.push(version);
    if (opts.managed) secret.managed = true;
    return { secret, version };
  }

  find(vault: string, name: string): StoredSecret | undefined {
    return this.vault(vault, false)?.get(name.toLowerCase());
  }

  getVersion(vault: string, name: string, version?: string): SecretVersion | undefined {
    const secret = this.find(vault, name);
    if (!secret) return undefined;
    if (!version) return secret.versions[secret.versions.length - 1];
    return secret.versions.find((v) => v.version === version.toLowerCase());
  }

  list(vault: string): StoredSecret[] {
    const secrets = [...(this.vault(vault, false)?.values() ?? [])];
    return secrets.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  }

  delete(vault: string, name: string): void {
    this.vault(vault, false)?.delete(name.toLowerCase());
  }

  /** The decoded backup bytes: the service's prefix followed by a JWE compact string. */
  backup(vault: string, name: string): Buffer | undefined {
    const secret = this.find(vault, name);
    if (!secret) return undefined;
    const payload: BackupPayload = { name: secret.name, versions: secret.versions };
    const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: this.keyId })).toString('base64url');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.backupKey, iv);
    cipher.setAAD(Buffer.from(header, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    const jwe = [header, '', iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    return Buffer.from(BACKUP_PREFIX + jwe, 'ascii');
  }

  restore(vault: string, blob: Buffer): RestoreResult {
    const payload = this.open(blob);
    if (!payload) return { ok: false, reason: 'invalid' };
    if (this.find(vault, payload.name)) return { ok: false, reason: 'exists', name: payload.name };
    const secret: StoredSecret = { name: payload.name, versions: payload.versions.map((v) => ({ ...v })) };
    this.vault(vault, true)!.set(payload.name.toLowerCase(), secret);
    return { ok: true, secret };
  }

  private open(blob: Buffer): BackupPayload | undefined {
    const text = blob.toString('latin1');
    if (!text.startsWith(BACKUP_PREFIX)) return undefined;
    const parts = text.slice(BACKUP_PREFIX.length).split('.');
    if (parts.length !== 5) return undefined;
    const [header, , iv, ciphertext, tag] = parts as [string, string, string, string, string];
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.backupKey, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(header, 'ascii'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
      const payload = JSON.parse(plain.toString('utf8')) as BackupPayload;
      if (typeof payload.name !== 'string' || !Array.isArray(payload.versions)) return undefined;
      return payload;
    } catch {
      return undefined;
    }
  }

  private vault(vault: string, create: boolean): Map<string, StoredSecret> | undefined {
    const key = vault.toLowerCase();
    let secrets = this.vaults.get(key);
    if (!secrets && create) {
      secrets = new Map();
      this.vaults.set(key, secrets);
    }
    return secrets;
  }
}
