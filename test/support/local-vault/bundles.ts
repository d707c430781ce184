import type { CertificateVersion, DeletedItem, KeyVersion, SecretVersion, StoredItem, VersionBase } from './store.js';

/** The service's JSON bodies (SecretBundle, KeyBundle, CertificateBundle, their items and deleted forms). `base` is the id's origin. */

function attributes(v: VersionBase, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enabled: v.enabled,
    ...(v.notBefore !== undefined ? { nbf: v.notBefore } : {}),
    ...(v.expires !== undefined ? { exp: v.expires } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays: 90,
    ...extra,
  };
}

function tags(v: VersionBase): Record<string, unknown> {
  return v.tags !== undefined ? { tags: v.tags } : {};
}

function deletedFields(base: string, collection: string, deleted: DeletedItem<VersionBase>): Record<string, unknown> {
  return {
    recoveryId: `${base}/${collection}/${deleted.item.name}`,
    deletedDate: deleted.deletedDate,
    scheduledPurgeDate: deleted.scheduledPurgeDate,
  };
}

// ---- secrets ----

export function secretItem(base: string, item: StoredItem<SecretVersion>, v: SecretVersion, withVersion: boolean): Record<string, unknown> {
  return {
    id: `${base}/secrets/${item.name}${withVersion ? `/${v.version}` : ''}`,
    attributes: attributes(v),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...tags(v),
    ...(item.managed ? { managed: true } : {}),
  };
}

export function secretBundle(base: string, item: StoredItem<SecretVersion>, v: SecretVersion, withValue: boolean): Record<string, unknown> {
  return {
    ...(withValue ? { value: v.value } : {}),
    ...secretItem(base, item, v, true),
    // A certificate's secret names its key, as the service's does.
    ...(item.managed ? { kid: `${base}/keys/${item.name}/${v.version}` } : {}),
  };
}

export function deletedSecretBundle(base: string, deleted: DeletedItem<SecretVersion>): Record<string, unknown> {
  const latest = deleted.item.versions[deleted.item.versions.length - 1]!;
  return { ...deletedFields(base, 'deletedsecrets', deleted), ...secretBundle(base, deleted.item, latest, false) };
}

// ---- keys ----

export function keyItem(base: string, item: StoredItem<KeyVersion>, v: KeyVersion, withVersion: boolean): Record<string, unknown> {
  return {
    kid: `${base}/keys/${item.name}${withVersion ? `/${v.version}` : ''}`,
    attributes: attributes(v, { exportable: false }),
    ...tags(v),
    ...(item.managed ? { managed: true } : {}),
  };
}

export function keyBundle(base: string, item: StoredItem<KeyVersion>, v: KeyVersion): Record<string, unknown> {
  return {
    key: { kid: `${base}/keys/${item.name}/${v.version}`, kty: v.kty, key_ops: v.keyOps, n: v.n, e: v.e },
    attributes: attributes(v, { exportable: false }),
    ...tags(v),
    ...(item.managed ? { managed: true } : {}),
  };
}

export function deletedKeyBundle(base: string, deleted: DeletedItem<KeyVersion>): Record<string, unknown> {
  const latest = deleted.item.versions[deleted.item.versions.length - 1]!;
  return { ...deletedFields(base, 'deletedkeys', deleted), ...keyBundle(base, deleted.item, latest) };
}

// ---- certificates ----

export function certificateItem(base: string, item: StoredItem<CertificateVersion>, v: CertificateVersion, withVersion: boolean): Record<string, unknown> {
  return {
    id: `${base}/certificates/${item.name}${withVersion ? `/${v.version}` : ''}`,
    x5t: v.x5t,
    attributes: attributes(v),
    ...tags(v),
  };
}

export function certificateBundle(base: string, item: StoredItem<CertificateVersion>, v: CertificateVersion, withPolicy: boolean): Record<string, unknown> {
  return {
    id: `${base}/certificates/${item.name}/${v.version}`,
    kid: `${base}/keys/${item.name}/${v.version}`,
    sid: `${base}/secrets/${item.name}/${v.version}`,
    x5t: v.x5t,
    cer: v.cer,
    contentType: 'application/x-pem-file',
    attributes: attributes(v),
    ...(withPolicy ? { policy: policy(base, item.name, v) } : {}),
    ...tags(v),
  };
}

export function deletedCertificateBundle(base: string, deleted: DeletedItem<CertificateVersion>): Record<string, unknown> {
  const latest = deleted.item.versions[deleted.item.versions.length - 1]!;
  return { ...deletedFields(base, 'deletedcertificates', deleted), ...certificateBundle(base, deleted.item, latest, true) };
}

function policy(base: string, name: string, v: CertificateVersion): Record<string, unknown> {
  return {
    id: `${base}/certificates/${name}/policy`,
    key_props: { exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false },
    secret_props: { contentType: 'application/x-pem-file' },
    x509_props: { subject: v.subject, key_usage: ['digitalSignature', 'keyEncipherment'], validity_months: 12 },
    lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: 'AutoRenew' } }],
    issuer: { name: 'Self' },
    attributes: { enabled: true, created: v.created, updated: v.updated },
  };
}

// ---- by kind, for the routes every kind shares ----

/** What restore and recover answer: the latest version's bundle (a secret's without its value). */
export function latestBundle(kind: 'secret' | 'key' | 'certificate', base: string, item: StoredItem<VersionBase>): Record<string, unknown> {
  const latest = item.versions[item.versions.length - 1]!;
  if (kind === 'secret') return secretBundle(base, item as StoredItem<SecretVersion>, latest as SecretVersion, false);
  if (kind === 'key') return keyBundle(base, item as StoredItem<KeyVersion>, latest as KeyVersion);
  return certificateBundle(base, item as StoredItem<CertificateVersion>, latest as CertificateVersion, true);
}

export function deletedBundle(kind: 'secret' | 'key' | 'certificate', base: string, deleted: DeletedItem<VersionBase>): Record<string, unknown> {
  if (kind === 'secret') return deletedSecretBundle(base, deleted as DeletedItem<SecretVersion>);
  if (kind === 'key') return deletedKeyBundle(base, deleted as DeletedItem<KeyVersion>);
  return deletedCertificateBundle(base, deleted as DeletedItem<CertificateVersion>);
}
