import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { KNOWN_RESOURCES, type TokenIssuer } from './tokens.js';

/** client id → secret of the service principals the local authority knows. */
export type ClientRegistry = Map<string, string>;

export interface AuthorityAnswer {
  status: number;
  body: unknown;
  /** True when a registered client proved its secret. */
  authorized: boolean;
}

const AUTHORITY_PATH = /^\/([A-Za-z0-9.-]{1,100})\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/;

export function isAuthorityPath(pathname: string): boolean {
  return AUTHORITY_PATH.test(pathname);
}

/**
 * The two endpoints MSAL needs for client credentials against an authority
 * that is not Microsoft's (so instance discovery is off): the OpenID metadata
 * and the token endpoint. Errors are shaped like Entra ID's (AADSTS codes),
 * so the executable's messages are tested against the real wording.
 */
export async function handleAuthority(
  req: IncomingMessage,
  url: URL,
  ctx: { clients: ClientRegistry; issuer: TokenIssuer; tenantId: string },
  body: Buffer,
): Promise<AuthorityAnswer> {
  const [, tenant, endpoint] = AUTHORITY_PATH.exec(url.pathname) ?? [];
  const origin = `https://${req.headers.host ?? 'localhost'}`;
  if (endpoint?.startsWith('v2.0')) {
    if (req.method !== 'GET') return { status: 405, body: { error: 'invalid_request' }, authorized: false };
    return {
      status: 200,
      authorized: false,
      body: {
        token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${origin}/${tenant}/oauth2/v2.0/logout`,
        issuer: `${origin}/${tenant}/v2.0`,
        jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        tenant_region_scope: null,
        cloud_instance_name: 'localhost',
      },
    };
  }
  if (req.method !== 'POST') return { status: 405, body: { error: 'invalid_request' }, authorized: false };
  const form = new URLSearchParams(body.toString('utf8'));
  const fail = (status: number, error: string, code: number, description: string): AuthorityAnswer => ({
    status,
    authorized: false,
    body: { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString() },
  });
  if (form.get('grant_type') !== 'client_credentials') {
    return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
  }
  const clientId = form.get('client_id') ?? '';
  const known = ctx.clients.get(clientId);
  if (known === undefined) {
    return fail(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
  }
  const given = Buffer.from(form.get('client_secret') ?? '');
  const expected = Buffer.from(known);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail(401, 'invalid_client', 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + clientId + "'.");
  }
  const scope = (form.get('scope') ?? '').split(' ').find((s) => s.endsWith('/.default')) ?? '';
  const resource = scope.replace(/\/\.default$/, '').replace(/\/+$/, '');
  if (!KNOWN_RESOURCES.includes(resource)) {
    return fail(400, 'invalid_resource', 500011, `The resource principal named ${resource} was not found in the tenant named ${tenant}.`);
  }
  const { token } = ctx.issuer.issue(3600, resource);
  return { status: 200, authorized: true, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
}
