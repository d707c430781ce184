// The small, documented set of ways a backup can fail (docs/protocol.md).
// Everything that goes wrong is turned into one of these, so the module and
// the exit code can tell users what to do without parsing messages.

export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'Forbidden'
  | 'ManagedByCertificate'
  | 'Unauthenticated'
  | 'Throttled'
  | 'Network'
  | 'FileExists'
  | 'InputNotFound'
  | 'Exists'
  | 'SoftDeleted'
  | 'InvalidBackup'
  | 'Io'
  | 'Service'
  | 'Protocol'
  | 'Internal';

interface KindInfo {
  readonly errorId: string;
  readonly category: string;
  readonly exitCode: number;
}

export const ERROR_KINDS: Readonly<Record<ErrorKind, KindInfo>> = {
  InvalidArgument: { errorId: 'InvalidArgument', category: 'InvalidArgument', exitCode: 2 },
  NotFound: { errorId: 'SecretNotFound', category: 'ObjectNotFound', exitCode: 3 },
  Forbidden: { errorId: 'AccessDenied', category: 'PermissionDenied', exitCode: 4 },
  ManagedByCertificate: { errorId: 'ManagedByCertificate', category: 'InvalidOperation', exitCode: 12 },
  Unauthenticated: { errorId: 'AuthenticationFailed', category: 'AuthenticationError', exitCode: 5 },
  Throttled: { errorId: 'Throttled', category: 'LimitsExceeded', exitCode: 6 },
  Network: { errorId: 'ConnectionFailed', category: 'ConnectionError', exitCode: 7 },
  FileExists: { errorId: 'FileExists', category: 'ResourceExists', exitCode: 8 },
  InputNotFound: { errorId: 'InputFileNotFound', category: 'ObjectNotFound', exitCode: 13 },
  Exists: { errorId: 'ItemExists', category: 'ResourceExists', exitCode: 14 },
  SoftDeleted: { errorId: 'ItemSoftDeleted', category: 'ResourceUnavailable', exitCode: 15 },
  InvalidBackup: { errorId: 'InvalidBackup', category: 'InvalidData', exitCode: 16 },
  Io: { errorId: 'WriteFailed', category: 'WriteError', exitCode: 9 },
  Service: { errorId: 'ServiceError', category: 'InvalidOperation', exitCode: 10 },
  Protocol: { errorId: 'ProtocolError', category: 'InvalidData', exitCode: 11 },
  Internal: { errorId: 'InternalError', category: 'NotSpecified', exitCode: 1 },
};

export interface BackupErrorDetails {
  /** The service's error code (inner code when there is one). */
  code?: string;
  /** HTTP status, when the vault answered. */
  status?: number;
  /** Overrides the kind's default errorId (e.g. ProtocolVersionMismatch). */
  errorId?: string;
}

export class BackupError extends Error {
  readonly kind: ErrorKind;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly errorId: string;

  constructor(kind: ErrorKind, message: string, details: BackupErrorDetails = {}) {
    super(message);
    this.name = 'BackupError';
    this.kind = kind;
    this.code = details.code;
    this.status = details.status;
    this.errorId = details.errorId ?? ERROR_KINDS[kind].errorId;
  }

  get category(): string {
    return ERROR_KINDS[this.kind].category;
  }

  get exitCode(): number {
    return ERROR_KINDS[this.kind].exitCode;
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      errorId: this.errorId,
      category: this.category,
      message: this.message,
      ...(this.code !== undefined ? { code: this.code } : {}),
      ...(this.status !== undefined ? { status: this.status } : {}),
    };
  }
}
