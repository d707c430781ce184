import { title } from './kinds.js';
import type { ItemKind, Operation } from './types.js';

export interface ErrorBody {
  error: { code: string; message: string; innererror?: { code: string } };
}

export interface ErrorContext {
  operation?: Operation;
  kind?: ItemKind;
  vault?: string;
  name?: string;
  tenantId: string;
  objectId: string;
  appId: string;
}

export function secretNotFound(nameOrId: string): ErrorBody {
  return notFound('secret', nameOrId);
}

const NOT_FOUND_CODE: Record<ItemKind, string> = { secret: 'SecretNotFound', key: 'KeyNotFound', certificate: 'CertificateNotFound' };

export function notFound(kind: ItemKind, nameOrId: string): ErrorBody {
  return {
    error: {
      code: NOT_FOUND_CODE[kind],
      message:
        `A ${kind} with (name/id) ${nameOrId} was not found in this key vault. If you recently deleted this ${kind} ` +
        'you may be able to recover it using the correct recovery command. For help resolving this issue, please see ' +
        'https://go.microsoft.com/fwlink/?linkid=2125182',
    },
  };
}

/** GET or DELETE of /deleted<kind>s/{n} when the name is not soft-deleted. */
export function deletedNotFound(kind: ItemKind): ErrorBody {
  return { error: { code: NOT_FOUND_CODE[kind], message: `Deleted ${title(kind)} not found` } };
}

/**
 * The service's refusal of an operation on a certificate's own secret or key. Its shape and wording
 * are the ones recorded for 'delete' of a secret (403, inner SecretManagedByKeyVault); that 'backup'
 * is refused the same way, and the key's "Key" wording, are documented behaviour, not recorded text.
 */
export function managedByCertificate(operation: string, kind: 'secret' | 'key' = 'secret'): ErrorBody {
  return {
    error: {
      code: 'Forbidden',
      message: `Operation "${operation}" is not allowed on this ${kind === 'key' ? 'Key' : 'secret'}, since it is associated with a certificate. Perform the operation on the corresponding certificate.`,
      innererror: { code: kind === 'key' ? 'KeyManagedByKeyVault' : 'SecretManagedByKeyVault' },
    },
  };
}

/** Restore into a name in use, and (the same answer) into a name purged less than the linger ago. */
export function alreadyExists(kind: ItemKind, name: string): ErrorBody {
  return {
    error: {
      code: 'Conflict',
      message: `${title(kind)} ${name} already exists. A ${kind} can only be restored into a vault where it does not exist.`,
    },
  };
}

export function deletedButRecoverable(kind: ItemKind, name: string): ErrorBody {
  return {
    error: {
      code: 'Conflict',
      message: `${title(kind)} ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the ${kind} can only be recovered or purged.`,
      innererror: { code: 'ObjectIsDeletedButRecoverable' },
    },
  };
}

export const MALFORMED_BLOB = 'Malformed backup blob.';
export const FOREIGN_BLOB = 'Cannot decrypt backup blob: the backup was made in another subscription or geography.';

export function badParameter(message: string): ErrorBody {
  return { error: { code: 'BadParameter', message } };
}

const PERMISSION: Record<Operation, string> = {
  backup: 'backup',
  get: 'get',
  set: 'set',
  list: 'list',
  restore: 'restore',
  token: 'get',
  delete: 'delete',
  purge: 'purge',
  recover: 'recover',
  getDeleted: 'get',
};

// Codes the service reports as the inner error of a 403, under an outer "Forbidden".
const FORBIDDEN_INNER = new Set(['AccessDenied', 'ForbiddenByRbac']);

/** The body the service would send with this status, for scripted faults. */
export function errorFor(status: number, ctx: ErrorContext, code?: string, message?: string): ErrorBody {
  switch (status) {
    case 404:
      return code && code !== NOT_FOUND_CODE[ctx.kind ?? 'secret']
        ? { error: { code, message: message ?? `${code}` } }
        : { error: { ...notFound(ctx.kind ?? 'secret', ctx.name ?? '').error, ...(message ? { message } : {}) } };
    case 403: {
      const inner = code && !FORBIDDEN_INNER.has(code) ? undefined : (code ?? 'AccessDenied');
      const outer = inner ? 'Forbidden' : code!;
      const defaultMessage = inner === 'ForbiddenByRbac'
        ? `Caller is not authorized to perform action on resource. If role assignments, deny assignments or role definitions were changed recently, please observe propagation time. ` +
          `Caller: appid=${ctx.appId};oid=${ctx.objectId};iss=https://sts.windows.net/${ctx.tenantId}/ ` +
          `Action: 'Microsoft.KeyVault/vaults/${ctx.kind ?? 'secret'}s/backup/action' Vault: ${ctx.vault ?? ''};location=westeurope`
        : `The user, group or application 'appid=${ctx.appId};oid=${ctx.objectId};iss=https://sts.windows.net/${ctx.tenantId}/' ` +
          `does not have ${ctx.kind ?? 'secret'}s ${PERMISSION[ctx.operation ?? 'get']} permission on key vault '${ctx.vault ?? ''};location=westeurope'. ` +
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
