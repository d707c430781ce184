export type Operation = 'backup' | 'get' | 'set' | 'list' | 'restore' | 'token';

export interface RequestRecord {
  method: string;
  /** Path and query as received; never carries a token. */
  url: string;
  vault?: string;
  name?: string;
  operation?: Operation;
  /** 0 while unanswered, and for requests whose connection was reset or left hanging. */
  status: number;
  authorized: boolean;
  startedAt: number;
  endedAt: number;
  fault?: string;
}

export type Fault =
  | {
      kind: 'status';
      status: number;
      code?: string;
      message?: string;
      retryAfter?: number;
      headers?: Record<string, string>;
    }
  | { kind: 'reset' }
  | { kind: 'resetMidBody' }
  | { kind: 'hang' }
  /** 200 with a chunked body (no Content-Length) that never ends: a server trying to exhaust memory. */
  | { kind: 'endless' }
  | { kind: 'body'; body: string; contentType?: string; status?: number };

export interface FaultMatch {
  vault?: string;
  name?: string;
  operation?: Operation;
}

export interface Faults {
  /** `times` defaults to 1; Infinity keeps the fault until clear(). */
  add(match: FaultMatch, fault: Fault, times?: number): void;
  /** Delay before every answer of the vault endpoint. */
  setLatency(ms: number): void;
  /** 429 Throttled above this many requests in a sliding 1 s window per vault; 429s are not counted. */
  setRateLimit(perSecond: number | null): void;
  /** Removes faults, latency and rate limit (back to the start options). */
  clear(): void;
}

export interface LocalVault {
  origin: string;
  vaultUrlTemplate: string;
  caFile: string;
  caPem: string;
  identityEndpoint: string;
  identityHeader: string;
  tenantId: string;
  env(): Record<string, string>;
  setSecret(vault: string, name: string, value: string): void;
  /** The secret a certificate of that name creates with itself (managed: true): its backup is refused. */
  setCertificateSecret(vault: string, name: string, value: string): void;
  deleteSecret(vault: string, name: string): void;
  lastBackupBlob(vault: string, name: string): Buffer | undefined;
  readonly requests: RequestRecord[];
  clearRequests(): void;
  inFlightMax(): number;
  faults: Faults;
  /** A token this vault accepts; `audience` is the cloud's Key Vault resource (https://vault.azure.net by default). */
  issueToken(opts?: { expiresInSeconds?: number; audience?: string }): { token: string; expiresOn: number };
  /**
   * Registers a service principal with the local authority that this server also serves over its
   * HTTPS origin (AZURE_AUTHORITY_HOST=<origin>): /<tenant>/v2.0/.well-known/openid-configuration
   * and /<tenant>/oauth2/v2.0/token (client_credentials with this secret).
   */
  addClient(clientId: string, secret: string): void;
  close(): Promise<void>;
}

export interface LocalVaultOptions {
  tenantId?: string;
  latencyMs?: number;
}
