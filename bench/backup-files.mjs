// What every benchmark scenario checks in the files it made, and the one median they all take.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const BACKUP_PREFIX = ')AzureKeyVaultSecretBackupV1.microsoft.com';

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A Key Vault secret backup as Az writes it: the prefix, then a five-part JWE. */
export function isSecretBackup(bytes) {
  const text = bytes.toString('latin1');
  return text.startsWith(BACKUP_PREFIX) && text.slice(BACKUP_PREFIX.length).split('.').length === 5;
}

/** Problems with `dir`: not exactly `expected` files, or a file that is not a secret backup. Empty when all is well. */
export function backupFileProblems(dir, expected) {
  const problems = [];
  const files = readdirSync(dir);
  if (files.length !== expected) problems.push(`${path.basename(dir)}: ${files.length} files, expected ${expected}`);
  const bad = files.filter((file) => !isSecretBackup(readFileSync(path.join(dir, file))));
  if (bad.length) problems.push(`${path.basename(dir)}: ${bad.length} not a secret backup (${bad.slice(0, 2).join(', ')})`);
  return problems;
}
