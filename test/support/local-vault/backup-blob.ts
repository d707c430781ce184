import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';

import type { VaultScope } from './types.js';

export type OpenResult<P> = { ok: true; payload: P } | { ok: false; reason: 'malformed' | 'foreign' };

interface Header {
  alg: string;
  enc: string;
  kid: string;
}

/**
 * Backups are really encrypted (AES-256-GCM, JWE compact after a prefix) so each blob is opaque and
 * different per call, like the service's. The key is derived from the vault's subscription and
 * geography, and named in the header: a blob from another scope is recognisably ours but cannot be
 * decrypted, while anything else that fails is malformed.
 */
export class BackupSealer {
  private readonly master = randomBytes(32);

  seal(prefix: string, scope: VaultScope, payload: unknown): Buffer {
    const key = this.keyFor(scope);
    const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: keyId(key) } satisfies Header)).toString('base64url');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(header, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    const jwe = [header, '', iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    return Buffer.from(prefix + jwe, 'ascii');
  }

  open<P>(prefix: string, scope: VaultScope, blob: Buffer): OpenResult<P> {
    const text = blob.toString('latin1');
    if (!text.startsWith(prefix)) return { ok: false, reason: 'malformed' };
    const parts = text.slice(prefix.length).split('.');
    if (parts.length !== 5) return { ok: false, reason: 'malformed' };
    const [header, , iv, ciphertext, tag] = parts as [string, string, string, string, string];
    const parsed = parseHeader(header);
    if (!parsed) return { ok: false, reason: 'malformed' };
    const key = this.keyFor(scope);
    if (parsed.kid !== keyId(key)) return { ok: false, reason: 'foreign' };
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(header, 'ascii'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
      return { ok: true, payload: JSON.parse(plain.toString('utf8')) as P };
    } catch {
      return { ok: false, reason: 'malformed' };
    }
  }

  private keyFor(scope: VaultScope): Buffer {
    return createHmac('sha256', this.master).update(`${scope.subscription.toLowerCase()}\n${scope.geography.toLowerCase()}`).digest();
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

function parseHeader(header: string): Header | undefined {
  try {
    const value = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Partial<Header>;
    return value.alg === 'dir' && value.enc === 'A256GCM' && typeof value.kid === 'string' ? (value as Header) : undefined;
  } catch {
    return undefined;
  }
}
