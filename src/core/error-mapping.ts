import { BackupError, type ErrorKind } from './errors.js';
import { KIND_INFO, type ItemKind } from './item-kind.js';

// What we need to know about a failure, whatever threw it: the SDK's
// RestError, @azure/identity's errors, Node's system errors.
export interface FailureFacts {
  name?: string;
  message?: string;
  statusCode?: number;
  /** Node system error code (ECONNRESET) or the RestError code (REQUEST_SEND_ERROR). */
  code?: string;
  /** The service's error body, when the vault answered with one. */
  serviceCode?: string;
  innerCode?: string;
  serviceMessage?: string;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_STREAM_PREMATURE_CLOSE', 'ECONNCLOSED', 'EPROTO', 'ENETDOWN', 'EHOSTDOWN', 'ESOCKETTIMEDOUT',
]);

// TLS and certificate failures come with many codes (OpenSSL's and Node's);
// all of them mean the vault could not be reached safely.
const NETWORK_CODE_PREFIXES = ['ERR_TLS_', 'ERR_SSL_', 'UNABLE_TO_', 'CERT_', 'UND_ERR_'];

export function isNetworkCode(code: string): boolean {
  return NETWORK_CODES.has(code) || NETWORK_CODE_PREFIXES.some((prefix) => code.startsWith(prefix));
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError', 'AuthenticationRequiredError',
]);

/**
 * The vault's refusal to work on a certificate's own secret (or key) alone: a 403 like a missing
 * permission, but nothing a role assignment would fix. Recorded as the inner code
 * SecretManagedByKeyVault; the wording is the fallback for an answer without it.
 */
function isManagedByCertificate(facts: FailureFacts): boolean {
  if (facts.statusCode !== 403) return false;
  if (facts.innerCode === 'SecretManagedByKeyVault' || facts.innerCode === 'KeyManagedByKeyVault') return true;
  return /associated with a certificate/i.test(facts.serviceMessage ?? '');
}

/** What a failure is about, for its message and its errorId: absent fields read as a secret's backup. */
export interface FailureContext {
  vaultName?: string;
  name?: string;
  kind?: ItemKind;
  operation?: 'backup' | 'restore';
}

export type RestoreConflict = 'softDeleted' | 'transient' | 'inUse';

/**
 * A restore's 409, by what the vault said: a soft-deleted name (recorded as inner code
 * ObjectIsDeletedButRecoverable, "deleted but recoverable"), a passing state ("being recovered",
 * "being deleted", "retry later"), or the name in use. The last one is also what a vault answers
 * for a few seconds after a purge (azure-sdk-for-net#26027), which restore.ts tells apart by looking.
 */
export function restoreConflictOf(facts: FailureFacts): RestoreConflict | undefined {
  if (facts.statusCode !== 409) return undefined;
  const text = facts.serviceMessage ?? facts.message ?? '';
  if (facts.innerCode === 'ObjectIsDeletedButRecoverable' || /deleted but recoverable/i.test(text)) return 'softDeleted';
  if (facts.innerCode === 'ObjectIsBeingRecovered' || facts.innerCode === 'ObjectIsBeingDeleted' || /being (?:recovered|deleted)|retry later/i.test(text)) return 'transient';
  return 'inUse';
}

function kindForStatus(status: number): ErrorKind {
  if (status === 404) return 'NotFound';
  if (status === 403) return 'Forbidden';
  if (status === 401) return 'Unauthenticated';
  if (status === 429) return 'Throttled';
  return 'Service';
}

/** Pure: decide the kind and the message from the facts of a failure. */
export function mapFailure(facts: FailureFacts, context: FailureContext = {}): BackupError {
  const kind = context.kind ?? 'secret';
  const operation = context.operation ?? 'backup';
  const info = KIND_INFO[kind];
  const what = context.name !== undefined && context.vaultName !== undefined
    ? `${kind} '${context.name}' in vault '${context.vaultName}'`
    : context.vaultName !== undefined && operation === 'restore'
      ? `the ${kind} restored into vault '${context.vaultName}'`
      : `the ${kind}`;
  const conflict = operation === 'restore' ? restoreConflictOf(facts) : undefined;
  if (conflict !== undefined) {
    const said = facts.serviceMessage ?? facts.message ?? 'HTTP 409';
    if (conflict === 'softDeleted') {
      return new BackupError(
        'SoftDeleted',
        `The vault holds a deleted ${kind} of that name, which blocks the restore: recover it (Undo-AzKeyVault${title(kind)}Removal) or purge it (Remove-AzKeyVault${title(kind)} -InRemovedState), then restore again. The vault said: ${said}`,
        { code: facts.innerCode ?? facts.serviceCode, status: 409 },
      );
    }
    return new BackupError(
      'Exists',
      `A ${kind} of that name already exists in the vault, and a restore never replaces one: remove it (and purge it) first, or restore into another vault. The vault said: ${said}`,
      { code: facts.innerCode ?? facts.serviceCode, status: 409 },
    );
  }
  if (operation === 'restore' && facts.statusCode === 400) {
    return new BackupError(
      'InvalidBackup',
      `The vault refused the backup: it is not a Key Vault ${kind} backup, it is damaged, or it was made in another subscription or geography, where it cannot be decrypted (a backup restores only within the subscription and geography it was made in). The vault said: ${facts.serviceMessage ?? facts.message ?? 'HTTP 400'}`,
      { code: facts.innerCode ?? facts.serviceCode, status: 400 },
    );
  }
  if (isManagedByCertificate(facts)) {
    const certificate = context.name !== undefined && context.vaultName !== undefined
      ? `the certificate '${context.name}' (Backup-AzKeyVaultCertificate -VaultName '${context.vaultName}' -Name '${context.name}')`
      : 'the certificate of the same name (Backup-AzKeyVaultCertificate)';
    return new BackupError(
      'ManagedByCertificate',
      `${what.charAt(0).toUpperCase()}${what.slice(1)} belongs to a Key Vault certificate, and the vault backs it up only with the certificate: back up ${certificate} instead, which includes this ${kind} and its ${kind === 'key' ? 'secret' : 'key'}. The vault said: ${facts.serviceMessage ?? facts.message ?? 'HTTP 403'}`,
      { code: facts.innerCode ?? facts.serviceCode, status: 403 },
    );
  }
  if (facts.statusCode !== undefined && facts.statusCode > 0) {
    const code = facts.innerCode ?? facts.serviceCode;
    const serviceMessage = facts.serviceMessage ?? facts.message ?? `HTTP ${facts.statusCode}`;
    let message = serviceMessage;
    const errorKind = kindForStatus(facts.statusCode);
    if (errorKind === 'Forbidden') {
      const doing = operation === 'restore' ? 'restoring' : 'backing up';
      message = `${serviceMessage} (${doing} ${what} needs the '${info.collection}/${operation}' permission, or the ${info.role} role, for this identity)`;
    } else if (errorKind === 'Throttled') {
      message = `${serviceMessage} (the vault kept throttling ${what} after every retry)`;
    }
    return new BackupError(errorKind, message, {
      code: code ?? undefined,
      status: facts.statusCode,
      ...(errorKind === 'NotFound' ? { errorId: info.notFoundId } : {}),
    });
  }
  if (facts.name !== undefined && CREDENTIAL_ERRORS.has(facts.name)) {
    return new BackupError('Unauthenticated', firstLine(facts.message ?? 'No credential could sign in.'), { code: facts.name });
  }
  if (facts.name === 'AbortError') {
    return new BackupError('Network', `The request for ${what} was cancelled or timed out.`, { code: 'Aborted' });
  }
  if (facts.code === 'PARSE_ERROR') {
    // Without a status the SDK could not even read the body: the connection
    // ended mid-answer. That is a network fault, not a bug of ours.
    return new BackupError('Network', `The vault's answer for ${what} was cut off before it was complete: ${firstLine(facts.message ?? facts.code)}`, {
      code: 'TruncatedResponse',
    });
  }
  if (facts.code !== undefined && isNetworkCode(facts.code)) {
    return new BackupError('Network', `Could not reach the vault for ${what}: ${firstLine(facts.message ?? facts.code)}`, { code: facts.code });
  }
  return new BackupError('Internal', firstLine(facts.message ?? 'Unknown error.'), { code: facts.code });
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? text;
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** Reads the facts off whatever was thrown, without trusting its shape. */
export function factsOf(error: unknown): FailureFacts {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const e = error as Record<string, unknown>;
  const facts: FailureFacts = {};
  if (typeof e.name === 'string') facts.name = e.name;
  if (typeof e.message === 'string') facts.message = e.message;
  if (typeof e.statusCode === 'number') facts.statusCode = e.statusCode;
  if (typeof e.code === 'string') facts.code = e.code;
  // RestError from the generated client carries the parsed body in `details`.
  const details = e.details as Record<string, unknown> | undefined;
  const body = (details?.error ?? details) as Record<string, unknown> | undefined;
  if (body && typeof body === 'object') {
    if (typeof body.code === 'string') facts.serviceCode = body.code;
    if (typeof body.message === 'string') facts.serviceMessage = body.message;
    const inner = (body.innerError ?? body.innererror) as Record<string, unknown> | undefined;
    if (inner && typeof inner.code === 'string') facts.innerCode = inner.code;
  }
  // Network failures are often wrapped; the system code sits on the cause.
  if (facts.code === undefined || facts.code === 'REQUEST_SEND_ERROR') {
    const cause = e.cause as Record<string, unknown> | undefined;
    if (cause && typeof cause.code === 'string') facts.code = cause.code;
  }
  return facts;
}

function title(kind: ItemKind): string {
  return `${kind.charAt(0).toUpperCase()}${kind.slice(1)}`;
}

export function toBackupError(error: unknown, context: FailureContext = {}): BackupError {
  if (error instanceof BackupError) return error;
  return mapFailure(factsOf(error), context);
}
