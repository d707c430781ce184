import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export const VAULT_RESOURCE = 'https://vault.azure.net';

/** The Key Vault resource (token audience) of each cloud, by the vault DNS suffix it serves. */
export const CLOUD_RESOURCES: Readonly<Record<string, string>> = {
  'vault.azure.net': VAULT_RESOURCE,
  'vault.azure.cn': 'https://vault.azure.cn',
  'vault.usgovcloudapi.net': 'https://vault.usgovcloudapi.net',
};

export const HSM_RESOURCE = 'https://managedhsm.azure.net';

/** The Managed HSM resource of each cloud, by its HSM DNS suffix. */
export const HSM_RESOURCES: Readonly<Record<string, string>> = {
  'managedhsm.azure.net': HSM_RESOURCE,
  'managedhsm.azure.cn': 'https://managedhsm.azure.cn',
  'managedhsm.usgovcloudapi.net': 'https://managedhsm.usgovcloudapi.net',
};

/** Every resource this server's token endpoints issue tokens for. */
export const KNOWN_RESOURCES: readonly string[] = [...Object.values(CLOUD_RESOURCES), ...Object.values(HSM_RESOURCES)];

/** The resource an HSM request must carry a token for: its cloud's for an HSM host, else the public one. */
export function hsmResourceForHost(host: string | undefined): string {
  const name = (host ?? '').toLowerCase().replace(/:\d+$/, '');
  for (const [suffix, resource] of Object.entries(HSM_RESOURCES)) if (name.endsWith(`.${suffix}`)) return resource;
  return HSM_RESOURCE;
}

/** The resource a request to this Host must carry a token for: a sovereign cloud's for its vault hosts, else the public one. */
export function resourceForHost(host: string | undefined): string {
  const name = (host ?? '').toLowerCase().replace(/:\d+$/, '');
  for (const [suffix, resource] of Object.entries(CLOUD_RESOURCES)) if (name.endsWith(`.${suffix}`)) return resource;
  return VAULT_RESOURCE;
}

export type TokenCheck = { ok: true } | { ok: false; reason: 'missing' | 'foreign' | 'expired' };

/**
 * Issues JWT-shaped bearer tokens signed with a key only this server knows, so
 * that a token from anywhere else (another local vault, a real tenant, a typo)
 * is refused exactly like a token the real service cannot validate.
 */
export class TokenIssuer {
  readonly objectId = randomUUID();
  readonly appId = randomUUID();
  private readonly key = randomBytes(32);

  constructor(readonly tenantId: string) {}

  issue(expiresInSeconds = 3600, audience = VAULT_RESOURCE): { token: string; expiresOn: number } {
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + Math.floor(expiresInSeconds);
    const header = b64json({ typ: 'JWT', alg: 'HS256' });
    const payload = b64json({
      aud: audience,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      tid: this.tenantId,
      oid: this.objectId,
      appid: this.appId,
      iat: now,
      nbf: now,
      exp: expiresOn,
      jti: randomUUID(),
    });
    const token = `${header}.${payload}.${this.sign(`${header}.${payload}`)}`;
    return { token, expiresOn };
  }

  check(authorization: string | undefined, audience = VAULT_RESOURCE): TokenCheck {
    if (!authorization) return { ok: false, reason: 'missing' };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) return { ok: false, reason: 'missing' };
    const parts = match[1]!.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'foreign' };
    const [header, payload, signature] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'foreign' };
    }
    let claims: { exp?: unknown; aud?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return { ok: false, reason: 'foreign' };
    }
    if (claims.aud !== audience) return { ok: false, reason: 'foreign' };
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) {
      return { ok: false, reason: 'expired' };
    }
    return { ok: true };
  }

  private sign(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
