import { BackupError } from './errors.js';

// The service answers base64url without padding. Buffer.from(…, 'base64url')
// silently skips characters it does not know, which would turn a corrupted
// answer into a corrupted backup file; this decoder refuses instead.
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

export function decodeBase64Url(value: unknown): Uint8Array {
  if (typeof value !== 'string') {
    throw new BackupError('Service', `The vault's backup answer has no 'value' string.`, { code: 'InvalidResponse' });
  }
  if (value.length === 0) {
    throw new BackupError('Service', `The vault's backup answer is empty.`, { code: 'InvalidResponse' });
  }
  const unpadded = value.replace(/=+$/, '');
  if (unpadded.length === 0) {
    // "=" or "==" would otherwise decode to zero bytes: an empty backup file.
    throw new BackupError('Service', `The vault's backup answer is empty.`, { code: 'InvalidResponse' });
  }
  if (!BASE64URL.test(value) || unpadded.length % 4 === 1) {
    throw new BackupError('Service', `The vault's backup answer is not base64url.`, { code: 'InvalidResponse' });
  }
  return new Uint8Array(Buffer.from(unpadded, 'base64url'));
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
