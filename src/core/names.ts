import { BackupError } from './errors.js';

// Key Vault's own naming rules. Checking them here means a bad name never
// reaches the network, and the user sees which rule was broken, not a 404.
const VAULT_NAME = /^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$/;
const SECRET_NAME = /^[A-Za-z0-9-]+$/;

export function describeValue(value: unknown): string {
  if (value === null) return '$null';
  if (value === undefined) return 'nothing';
  if (typeof value !== 'string') return `a ${typeof value}`;
  // JSON quoting makes control characters and trailing spaces visible.
  return JSON.stringify(value.length > 140 ? `${value.slice(0, 140)}…` : value);
}

/** A vault's name, or a Managed HSM's (`what`: 'Managed HSM'), which follows the same rule. */
export function validateVaultName(value: unknown, what = 'vault'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new BackupError('InvalidArgument', `The ${what} name is required; got ${describeValue(value)}.`);
  }
  if (value.length < 3 || value.length > 24) {
    throw new BackupError('InvalidArgument', `The ${what} name ${describeValue(value)} is invalid: it must be 3 to 24 characters long.`);
  }
  if (!VAULT_NAME.test(value) || value.endsWith('-')) {
    throw new BackupError(
      'InvalidArgument',
      `The ${what} name ${describeValue(value)} is invalid: use letters, digits and single hyphens, start with a letter and end with a letter or digit.`,
    );
  }
  return value;
}

/** Secrets, keys and certificates share one naming rule; `kind` only names the item in the message. */
export function validateSecretName(value: unknown, kind = 'secret'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new BackupError('InvalidArgument', `The ${kind} name is required; got ${describeValue(value)}.`);
  }
  if (value.length > 127) {
    throw new BackupError('InvalidArgument', `The ${kind} name ${describeValue(value)} is invalid: it must be 1 to 127 characters long.`);
  }
  if (!SECRET_NAME.test(value)) {
    throw new BackupError('InvalidArgument', `The ${kind} name ${describeValue(value)} is invalid: use only letters, digits and hyphens.`);
  }
  return value;
}
