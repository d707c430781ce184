import type { Operation } from './types.js';

export interface ErrorBody {
  error: { code: string; message: string; innererror?: { code: string } };
}

export interface ErrorContext {
  operation?: Operation;
  vault?: string;
  name?: string;
  tenantId: string;
  objectId: string;
  appId: string;
}

export function secretNotFound(nameOrId: string): ErrorBody {
  return {
    error: {
      code: 'SecretNotFound',
      message:
        `A secret with (name/id) ${nameOrId} was not found in this key vault. If you recently deleted this secret ` +
        'you may be able to recover it using the correct recovery command. For help resolving this issue, please see ' +
        'https://go.microsoft.com/fwlink/?linkid=2125182',
    },
  };
}

/**
 * The service's refusal of an operation on a certificate's own secret. Its shape and wording are
 * the ones recorded for 'delete' (403, inner SecretManagedByKeyVault); that 'backup' is refused
 * the same way is documented behaviour, its exact text is not recorded.
 */
export function managedByCertificate(operation: string): ErrorBody {
  return {
    error: {
      code: 'Forbidden',
      message: `Operation "${operation}" is not allowed on this secret, since it is associated with a certificate. Perform the operation on the corresponding certificate.`,
      innererror: { code: 'SecretManagedByKeyVault' },
    },
  };
}

export function badParameter(message: string): ErrorBody {
  return { error: { code: 'BadParameter', message } };
}

const PERMISSION: Record<Operation, string> = {
  backup: 'secrets backup',
  get: 'secrets get',
  set: 'secrets set',
  list: 'secrets list',
  restore: 'secrets restore',
  token: 'secrets get',
};

// Codes the service reports as the inner error of a 403, under an outer "Forbidden".
const FORBIDDEN_INNER = new Set(['AccessDenied', 'ForbiddenByRbac']);

/** The body the service would send with this status, for scripted faults. */
export function errorFor(status: number, ctx: ErrorContext, code?: string, message?: string): ErrorBody {
  switch (status) {
    case 404:
      return code && code !== 'SecretNotFound'
        ? { error: { code, message: message ?? `${code}` } }
        : { error: { ...secretNotFound(ctx.name ?? '').error, ...(message ? { message } : {}) } };
    case 403: {
      const inner = code && !FORBIDDEN_INNER.has(code) ? undefined : (code ?? 'AccessDenied');
      const outer = inner ? 'Forbidden' : code!;
      const defaultMessage = inner === 'ForbiddenByRbac'
        ? `Caller is not authorized to perform action on resource. If role assignments, deny assignments or role definitions were changed recently, please observe propagation time. ` +
          `Caller: appid=${ctx.appId};oid=${ctx.objectId};iss=https://sts.windows.net/${ctx.tenantId}/ ` +
          `Action: 'Microsoft.KeyVault/vaults/secrets/backup/action' Vault: ${ctx.vault ?? ''};location=westeurope`
        : `The user, group or application 'appid=${ctx.appId};oid=${ctx.objectId};iss=https://sts.windows.net/${ctx.tenantId}/' ` +
          `does not have ${PERMISSION[ctx.operation ?? 'get']} permission on key vault '${ctx.vault ?? ''};location=westeurope'. ` +
          'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287';
      return { error: { code: outer, message: message ?? defaultMessage, ...(inner ? { innererror: { code: inner } } : {}) } };
    }
    case 429:
      return throttled(code, message);
    case 401:
      return { error: { code: code ?? 'Unauthorized', message: message ?? 'AKV10022: Invalid token.' } };
    case 400:
      return { error: { code: code ?? 'BadParameter', message: message ?? 'The request is invalid.' } };
    case 409:
      return { error: { code: code ?? 'Conflict', message: message ?? 'The request conflicts with the current state of the secret.' } };
    case 503:
      return { error: { code: code ?? 'ServiceUnavailable', message: message ?? 'The service is temporarily unavailable.' } };
    default:
      return {
        error: {
          code: code ?? (status >= 500 ? 'InternalServerError' : `Http${status}`),
          message: message ?? (status >= 500 ? 'The server encountered an internal error. Please retry the request.' : `HTTP ${status}`),
        },
      };
  }
}

export function throttled(code?: string, message?: string): ErrorBody {
  return {
    error: {
      code: code ?? 'Throttled',
      message:
        message ??
        'Request was not processed because too many requests were received. Reason: A generic throttling reason ' +
          'applied to the vault. Please retry after the time given in the Retry-After header.',
    },
  };
}
