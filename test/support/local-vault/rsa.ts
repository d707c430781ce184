import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface RsaMaterial {
  /** base64url, as JsonWebKey carries them */
  n: string;
  e: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * One real RSA key pair per modulus size, made on first use and shared by every key of the server:
 * the stand-in never signs with a key, and generating one per key would make seeding 1,000 keys slow.
 */
export class RsaKeys {
  private readonly bySize = new Map<number, RsaMaterial>();

  get(bits = 2048): RsaMaterial {
    let material = this.bySize.get(bits);
    if (!material) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      const jwk = publicKey.export({ format: 'jwk' });
      material = { n: jwk.n!, e: jwk.e!, privateKey, publicKey };
      this.bySize.set(bits, material);
    }
    return material;
  }
}

/** RSA bits from a JWK's n, for checks and for what the SDK reports. */
export function modulusBits(n: string): number {
  const bytes = Buffer.from(n, 'base64url');
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}
