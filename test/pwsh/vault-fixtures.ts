import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalVault } from '../support/local-vault/index.js';

/** A vault name no other test uses, so the shared vault's request log can be read per test. */
export function uniqueVaultName(prefix = 'pw'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export function seed(vault: LocalVault, vaultName: string, names: string[]): void {
  for (const name of names) vault.setSecret(vaultName, name, `value of ${name} ${randomBytes(8).toString('hex')}`);
}

/** Names whose backup the vault answered with 200, in the order the requests arrived. */
export function backedUp(vault: LocalVault, vaultName: string): string[] {
  return vault.requests.filter((r) => r.vault === vaultName && r.operation === 'backup' && r.status === 200).map((r) => r.name ?? '');
}

export function backupRequests(vault: LocalVault, vaultName: string): number {
  return vault.requests.filter((r) => r.vault === vaultName && r.operation === 'backup').length;
}

/** The file holds exactly the bytes the vault last returned for that secret. */
export function assertBackupFile(vault: LocalVault, vaultName: string, name: string, path: string): void {
  const expected = vault.lastBackupBlob(vaultName, name);
  assert.ok(expected, `the vault returned a backup of ${vaultName}/${name}`);
  assert.deepEqual(readFileSync(path), expected, `${path} holds the backup of ${name}`);
}

export function filesIn(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** `<vault>-<name>-<epoch seconds[.fraction]>`, lower-cased: the default file name. */
export function defaultNamePattern(dir: string, vaultName: string, name: string): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escape(join(dir, `${vaultName}-${name}`.toLowerCase()))}-\\d{9,}(\\.\\d+)?$`);
}
