import type { ItemKind } from './item-kind.js';

/**
 * What a restore tells the module about the item it brought back: the main properties of Az's
 * PSKeyVaultSecret / PSKeyVaultKey / PSKeyVaultCertificate, as plain JSON (dates as ISO 8601 UTC).
 * Absent fields are unknown; a restore never returns a secret's value, and neither does this.
 */
export interface RestoredItem {
  kind: ItemKind;
  vaultName: string;
  name?: string;
  version?: string;
  id?: string;
  enabled?: boolean;
  expires?: string;
  notBefore?: string;
  created?: string;
  updated?: string;
  recoveryLevel?: string;
  tags?: Record<string, string>;
  contentType?: string;
  keyType?: string;
  keyOps?: string[];
  curveName?: string;
  keySize?: number;
  isHsm?: boolean;
  keyId?: string;
  secretId?: string;
  thumbprint?: string;
}

/** The properties every kind's SDK model has (SecretProperties, KeyProperties, CertificateProperties). */
export interface ItemProperties {
  id?: string;
  name?: string;
  version?: string;
  enabled?: boolean;
  expiresOn?: Date;
  notBefore?: Date;
  createdOn?: Date;
  updatedOn?: Date;
  recoveryLevel?: string;
  tags?: Record<string, string>;
}

const iso = (date: Date | undefined): string | undefined =>
  date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;

/** Drops unknown (undefined) fields, so the line carries only what the vault said. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function common(kind: ItemKind, vaultName: string, p: ItemProperties): RestoredItem {
  return {
    kind,
    // The vault restored into, as the caller named it: the id's host is the vault's DNS name only
    // in Azure, not behind a test vault's address.
    vaultName,
    name: p.name,
    version: p.version,
    id: p.id,
    enabled: p.enabled,
    expires: iso(p.expiresOn),
    notBefore: iso(p.notBefore),
    created: iso(p.createdOn),
    updated: iso(p.updatedOn),
    recoveryLevel: p.recoveryLevel,
    tags: p.tags !== undefined ? { ...p.tags } : undefined,
  };
}

export function restoredSecret(vaultName: string, properties: ItemProperties & { contentType?: string }): RestoredItem {
  return defined({ ...common('secret', vaultName, properties), contentType: properties.contentType });
}

/** RSA modulus bits, from the key's n (a leading zero byte is sign padding, not size). */
function modulusBits(n: Uint8Array | undefined): number | undefined {
  if (n === undefined || n.length === 0) return undefined;
  let start = 0;
  while (start < n.length - 1 && n[start] === 0) start++;
  const top = n[start]!;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(top));
}

export function restoredKey(
  vaultName: string,
  key: { key?: { kty?: string; keyOps?: string[]; n?: Uint8Array; crv?: string }; properties: ItemProperties },
  hsm: boolean,
): RestoredItem {
  const jwk = key.key ?? {};
  const bits = modulusBits(jwk.n);
  return defined({
    ...common('key', vaultName, key.properties),
    keyType: jwk.kty,
    keyOps: jwk.keyOps !== undefined ? [...jwk.keyOps] : undefined,
    curveName: jwk.crv,
    // Az rounds nothing: a 2048-bit key reports 2048.
    keySize: bits,
    isHsm: hsm,
  });
}

export function restoredCertificate(
  vaultName: string,
  certificate: { keyId?: string; secretId?: string; properties: ItemProperties & { x509Thumbprint?: Uint8Array } },
): RestoredItem {
  const thumb = certificate.properties.x509Thumbprint;
  return defined({
    ...common('certificate', vaultName, certificate.properties),
    keyId: certificate.keyId,
    secretId: certificate.secretId,
    // As X509Certificate2.Thumbprint shows it: upper-case hex.
    thumbprint: thumb !== undefined && thumb.length > 0 ? Buffer.from(thumb).toString('hex').toUpperCase() : undefined,
  });
}
