import { randomBytes } from 'node:crypto';

import type { ItemState } from './types.js';

/** What every version of every kind carries (times in epoch seconds, as the service's attributes). */
export interface VersionBase {
  version: string;
  enabled: boolean;
  created: number;
  updated: number;
  notBefore?: number;
  expires?: number;
  tags?: Record<string, string>;
}

export interface SecretVersion extends VersionBase {
  value: string;
  contentType?: string;
}

export interface KeyVersion extends VersionBase {
  kty: string;
  keyOps: string[];
  n: string;
  e: string;
}

export interface CertificateVersion extends VersionBase {
  /** base64 DER */
  cer: string;
  /** base64url SHA-1 of the DER */
  x5t: string;
  subject: string;
}

export interface StoredItem<V extends VersionBase> {
  /** The name as first created; lookups ignore case like the service. */
  name: string;
  /** Oldest first. */
  versions: V[];
  /** A certificate's own secret or key (`managed: true`), which the service will not back up or delete alone. */
  managed?: boolean;
}

export interface DeletedItem<V extends VersionBase> {
  item: StoredItem<V>;
  deletedDate: number;
  scheduledPurgeDate: number;
}

const RETENTION_DAYS = 90;

interface Space<V extends VersionBase> {
  active: Map<string, StoredItem<V>>;
  deleted: Map<string, DeletedItem<V>>;
  /** Name → epoch ms until which a purged name still refuses a restore. */
  purging: Map<string, number>;
}

export function newVersionId(): string {
  return randomBytes(16).toString('hex');
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** One kind's items of every vault (or every HSM), with soft delete: active, deleted, purging. */
export class ItemStore<V extends VersionBase> {
  private readonly vaults = new Map<string, Space<V>>();

  /** Appends a version, creating the item. Refuses a soft-deleted name, as the service does. */
  add(vault: string, name: string, version: V, managed = false): StoredItem<V> {
    const space = this.space(vault);
    const key = name.toLowerCase();
    if (space.deleted.has(key)) throw new Error(`${name} is soft-deleted in ${vault}: recover or purge it first`);
    let item = space.active.get(key);
    if (!item) {
      item = { name, versions: [] };
      space.active.set(key, item);
    }
    item.versions.push(version);
    if (managed) item.managed = true;
    return item;
  }

  find(vault: string, name: string): StoredItem<V> | undefined {
    return this.vaults.get(vault.toLowerCase())?.active.get(name.toLowerCase());
  }

  version(vault: string, name: string, version?: string): V | undefined {
    const item = this.find(vault, name);
    if (!item) return undefined;
    if (!version) return item.versions[item.versions.length - 1];
    return item.versions.find((v) => v.version === version.toLowerCase());
  }

  list(vault: string): StoredItem<V>[] {
    const items = [...(this.vaults.get(vault.toLowerCase())?.active.values() ?? [])];
    return items.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  }

  deleted(vault: string, name: string): DeletedItem<V> | undefined {
    return this.vaults.get(vault.toLowerCase())?.deleted.get(name.toLowerCase());
  }

  state(vault: string, name: string, now = Date.now()): ItemState {
    const space = this.vaults.get(vault.toLowerCase());
    const key = name.toLowerCase();
    if (!space) return 'absent';
    if (space.active.has(key)) return 'active';
    if (space.deleted.has(key)) return 'deleted';
    const until = space.purging.get(key);
    if (until !== undefined && now < until) return 'purging';
    if (until !== undefined) space.purging.delete(key);
    return 'absent';
  }

  softDelete(vault: string, name: string): DeletedItem<V> | undefined {
    const space = this.space(vault);
    const key = name.toLowerCase();
    const item = space.active.get(key);
    if (!item) return undefined;
    space.active.delete(key);
    const deletedDate = nowSeconds();
    const deleted: DeletedItem<V> = { item, deletedDate, scheduledPurgeDate: deletedDate + RETENTION_DAYS * 86_400 };
    space.deleted.set(key, deleted);
    return deleted;
  }

  purge(vault: string, name: string, lingerMs: number): boolean {
    const space = this.space(vault);
    const key = name.toLowerCase();
    if (!space.deleted.delete(key)) return false;
    if (lingerMs > 0) space.purging.set(key, Date.now() + lingerMs);
    return true;
  }

  recover(vault: string, name: string): StoredItem<V> | undefined {
    const space = this.space(vault);
    const key = name.toLowerCase();
    const deleted = space.deleted.get(key);
    if (!deleted) return undefined;
    space.deleted.delete(key);
    space.active.set(key, deleted.item);
    return deleted.item;
  }

  /** Gone at once, no soft delete: the old deleteSecret of tests that only need a free name. */
  remove(vault: string, name: string): void {
    this.vaults.get(vault.toLowerCase())?.active.delete(name.toLowerCase());
  }

  /** A restored item, whose name the caller has checked is free. */
  put(vault: string, item: StoredItem<V>): void {
    const space = this.space(vault);
    space.purging.delete(item.name.toLowerCase());
    space.active.set(item.name.toLowerCase(), item);
  }

  private space(vault: string): Space<V> {
    const key = vault.toLowerCase();
    let space = this.vaults.get(key);
    if (!space) {
      space = { active: new Map(), deleted: new Map(), purging: new Map() };
      this.vaults.set(key, space);
    }
    return space;
  }
}
