import { BackupSealer } from './backup-blob.js';
import { backupPrefix, type Space } from './kinds.js';
import { RsaKeys } from './rsa.js';
import {
  ItemStore,
  newVersionId,
  nowSeconds,
  type CertificateVersion,
  type DeletedItem,
  type KeyVersion,
  type SecretVersion,
  type StoredItem,
  type VersionBase,
} from './store.js';
import type { ItemKind, ItemSeed, ItemState, VaultScope } from './types.js';
import { selfSignedCertificate, type SelfSigned } from './x509.js';

export const DEFAULT_SCOPE: Readonly<VaultScope> = { subscription: '00000000-0000-4000-8000-000000000001', geography: 'local' };
export const DEFAULT_PURGE_LINGER_MS = 2000;
const RSA_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];

export interface SecretSeedOptions extends ItemSeed {
  contentType?: string;
  managed?: boolean;
}

export interface KeySeedOptions extends ItemSeed {
  kty?: string;
  keySize?: number;
  keyOps?: string[];
}

export type BackupOutcome = { ok: true; blob: Buffer } | { ok: false; reason: 'notFound' | 'managed' };
export type RestoreOutcome =
  | { ok: true; name: string; item: StoredItem<VersionBase> }
  | { ok: false; reason: 'malformed' | 'foreign' }
  | { ok: false; reason: 'exists' | 'deleted'; name: string };

/** What a blob carries inside its encryption; a certificate's carries its secret's and key's versions too. */
interface BackupPayload {
  kind: ItemKind;
  hsm: boolean;
  subscription: string;
  geography: string;
  name: string;
  managed?: boolean;
  versions: VersionBase[];
  secretVersions?: SecretVersion[];
  keyVersions?: KeyVersion[];
}

/**
 * Every item of the server and what can happen to it, for both the HTTP routes and the seeding API:
 * one place for the rules the service keeps (a certificate's secret and key follow it, soft delete,
 * the purge linger, backups bound to a subscription and geography).
 */
export class VaultItems {
  readonly secrets = new ItemStore<SecretVersion>();
  readonly keys = new ItemStore<KeyVersion>();
  readonly hsmKeys = new ItemStore<KeyVersion>();
  readonly certificates = new ItemStore<CertificateVersion>();
  readonly rsa = new RsaKeys();
  purgeLingerMs = DEFAULT_PURGE_LINGER_MS;

  private readonly sealer = new BackupSealer();
  private readonly scopes = new Map<string, VaultScope>();
  private readonly certs = new Map<string, SelfSigned>();

  store(kind: ItemKind, space: Space): ItemStore<VersionBase> {
    if (space === 'hsm') return this.hsmKeys;
    return kind === 'secret' ? this.secrets : kind === 'key' ? this.keys : this.certificates;
  }

  keyStore(space: Space): ItemStore<KeyVersion> {
    return space === 'hsm' ? this.hsmKeys : this.keys;
  }

  setScope(space: Space, vault: string, scope: VaultScope): void {
    this.scopes.set(`${space}:${vault.toLowerCase()}`, { ...scope });
  }

  scope(space: Space, vault: string): VaultScope {
    return this.scopes.get(`${space}:${vault.toLowerCase()}`) ?? DEFAULT_SCOPE;
  }

  addSecret(vault: string, name: string, value: string, opts: SecretSeedOptions = {}, version = newVersionId()): { item: StoredItem<SecretVersion>; version: SecretVersion } {
    const v: SecretVersion = {
      ...base(version, opts),
      value,
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
    };
    return { item: this.secrets.add(vault, name, v, opts.managed), version: v };
  }

  addKey(space: Space, vault: string, name: string, opts: KeySeedOptions = {}, managed = false, version = newVersionId()): { item: StoredItem<KeyVersion>; version: KeyVersion } {
    const rsa = this.rsa.get(opts.keySize ?? 2048);
    const kty = space === 'hsm' ? 'RSA-HSM' : (opts.kty ?? 'RSA');
    const v: KeyVersion = { ...base(version, opts), kty, keyOps: opts.keyOps ?? RSA_OPS, n: rsa.n, e: rsa.e };
    return { item: this.keyStore(space).add(vault, name, v, managed), version: v };
  }

  /** A new certificate version, and the secret and key versions of the same id that the service makes with it. */
  addCertificate(vault: string, name: string, opts: ItemSeed & { subject?: string } = {}): { item: StoredItem<CertificateVersion>; version: CertificateVersion } {
    const subject = opts.subject ?? `CN=${name}`;
    const cert = this.certificateFor(subject);
    const rsa = this.rsa.get(2048);
    const version = newVersionId();
    const seed: ItemSeed = { notBefore: cert.notBefore, expires: cert.expires, ...opts };
    const pem = `${rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()}${cert.pem}`;
    this.addSecret(vault, name, pem, { ...seed, contentType: 'application/x-pem-file', managed: true }, version);
    this.addKey('vault', vault, name, { ...seed, keyOps: ['sign', 'verify'] }, true, version);
    const v: CertificateVersion = { ...base(version, seed), cer: cert.der.toString('base64'), x5t: cert.x5t, subject };
    return { item: this.certificates.add(vault, name, v), version: v };
  }

  state(kind: ItemKind, space: Space, vault: string, name: string): ItemState {
    return this.store(kind, space).state(vault, name);
  }

  /** Soft delete; a certificate's secret and key go with it. */
  softDelete(kind: ItemKind, space: Space, vault: string, name: string): DeletedItem<VersionBase> | undefined {
    const deleted = this.store(kind, space).softDelete(vault, name);
    if (deleted && kind === 'certificate') {
      this.secrets.softDelete(vault, name);
      this.keys.softDelete(vault, name);
    }
    return deleted;
  }

  purge(kind: ItemKind, space: Space, vault: string, name: string): boolean {
    const purged = this.store(kind, space).purge(vault, name, this.purgeLingerMs);
    if (purged && kind === 'certificate') {
      this.secrets.purge(vault, name, this.purgeLingerMs);
      this.keys.purge(vault, name, this.purgeLingerMs);
    }
    return purged;
  }

  recover(kind: ItemKind, space: Space, vault: string, name: string): StoredItem<VersionBase> | undefined {
    const item = this.store(kind, space).recover(vault, name);
    if (item && kind === 'certificate') {
      this.secrets.recover(vault, name);
      this.keys.recover(vault, name);
    }
    return item;
  }

  backup(kind: ItemKind, space: Space, vault: string, name: string): BackupOutcome {
    const item = this.store(kind, space).find(vault, name);
    if (!item) return { ok: false, reason: 'notFound' };
    if (item.managed) return { ok: false, reason: 'managed' };
    const scope = this.scope(space, vault);
    const payload: BackupPayload = {
      kind,
      hsm: space === 'hsm',
      subscription: scope.subscription,
      geography: scope.geography,
      name: item.name,
      versions: item.versions,
      ...(kind === 'certificate'
        ? { secretVersions: this.secrets.find(vault, name)?.versions ?? [], keyVersions: this.keys.find(vault, name)?.versions ?? [] }
        : {}),
    };
    return { ok: true, blob: this.sealer.seal(backupPrefix(kind, space), scope, payload) };
  }

  restore(kind: ItemKind, space: Space, vault: string, blob: Buffer): RestoreOutcome {
    const opened = this.sealer.open<BackupPayload>(backupPrefix(kind, space), this.scope(space, vault), blob);
    if (!opened.ok) return opened;
    const payload = opened.payload;
    if (!wellFormed(payload) || payload.kind !== kind || payload.hsm !== (space === 'hsm')) return { ok: false, reason: 'malformed' };
    const name = payload.name;
    // A certificate needs its secret's and key's names free as well; the first taken one decides.
    const stores = kind === 'certificate' ? [this.certificates, this.secrets, this.keys] : [this.store(kind, space)];
    for (const store of stores) {
      const state = store.state(vault, name);
      if (state === 'deleted') return { ok: false, reason: 'deleted', name };
      if (state !== 'absent') return { ok: false, reason: 'exists', name };
    }
    const item: StoredItem<VersionBase> = { name, versions: payload.versions.map((v) => ({ ...v })) };
    this.store(kind, space).put(vault, item);
    if (kind === 'certificate') {
      this.secrets.put(vault, { name, versions: (payload.secretVersions ?? []).map((v) => ({ ...v })), managed: true });
      this.keys.put(vault, { name, versions: (payload.keyVersions ?? []).map((v) => ({ ...v })), managed: true });
    }
    return { ok: true, name, item };
  }

  private certificateFor(subject: string): SelfSigned {
    let cert = this.certs.get(subject);
    if (!cert) {
      cert = selfSignedCertificate(subject.replace(/^CN=/i, ''), this.rsa.get(2048));
      this.certs.set(subject, cert);
    }
    return cert;
  }
}

function base(version: string, opts: ItemSeed): VersionBase {
  const now = nowSeconds();
  return {
    version,
    enabled: opts.enabled ?? true,
    created: now,
    updated: now,
    ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
    ...(opts.expires !== undefined ? { expires: opts.expires } : {}),
    ...(opts.tags !== undefined ? { tags: opts.tags } : {}),
  };
}

function wellFormed(payload: BackupPayload): boolean {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof payload.name === 'string' &&
    Array.isArray(payload.versions) &&
    payload.versions.length > 0 &&
    payload.versions.every((v) => typeof v?.version === 'string')
  );
}
