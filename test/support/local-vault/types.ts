export type Operation = 'backup' | 'get' | 'set' | 'list' | 'restore' | 'token' | 'delete' | 'purge' | 'recover' | 'getDeleted';

/** What a vault request is about; a Managed HSM serves keys only. */
export type ItemKind = 'secret' | 'key' | 'certificate';

export interface RequestRecord {
  method: string;
  /** Path and query as received; never carries a token. */
  url: string;
  /** The vault's name, or the Managed HSM's when `hsm` is true. */
  vault?: string;
  name?: string;
  operation?: Operation;
  /** Absent for the token endpoints and for paths that name no item collection. */
  kind?: ItemKind;
  hsm?: boolean;
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
  kind?: ItemKind;
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

/** Where an item lives: a vault (the default) or a Managed HSM of that name (keys only). */
export interface Where {
  hsm?: boolean;
}

export interface ItemSeed {
  tags?: Record<string, string>;
  enabled?: boolean;
  /** Epoch seconds, as the service's attributes carry them. */
  notBefore?: number;
  expires?: number;
}

export interface KeySeed extends ItemSeed, Where {
  /** RSA modulus bits (2048 by default); one real key pair per size and server, shared by every key. */
  keySize?: number;
  keyOps?: string[];
}

export interface CertificateSeed extends ItemSeed {
  subject?: string;
}

export interface SeededVersion {
  name: string;
  version: string;
  /** The item's id with its version, as the service names it. */
  id: string;
}

/** A vault's (or HSM's) tenancy: backups restore only within the same subscription and geography. */
export interface VaultScope {
  subscription: string;
  geography: string;
}

/** 'purging': purged less than the purge linger ago (restore still answers 409, GETs 404). */
export type ItemState = 'active' | 'deleted' | 'purging' | 'absent';

export interface LocalVault {
  origin: string;
  vaultUrlTemplate: string;
  /** `<origin>/hsm/{vault}`: a Managed HSM's base URL, `{vault}` being the HSM name. */
  hsmUrlTemplate: string;
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
  /** The blob the last backup of this item served (a secret unless `kind` says otherwise). */
  lastBackupBlob(vault: string, name: string, opts?: { kind?: ItemKind } & Where): Buffer | undefined;
  /** An RSA key, a new version of it if the name exists. */
  setKey(vault: string, name: string, opts?: KeySeed): SeededVersion;
  /** A self-signed certificate, with its managed secret and key of the same name and version id. */
  setCertificate(vault: string, name: string, opts?: CertificateSeed): SeededVersion;
  /** Soft delete, as DELETE does (a certificate takes its secret and key along); false if there was nothing to delete. */
  deleteItem(kind: ItemKind, vault: string, name: string, where?: Where): boolean;
  /** Purges a soft-deleted item; the name then lingers (see setPurgeLinger). False if it was not deleted. */
  purgeItem(kind: ItemKind, vault: string, name: string, where?: Where): boolean;
  /** Version ids, oldest first, of the active or else the soft-deleted item; [] if neither. */
  itemVersions(kind: ItemKind, vault: string, name: string, where?: Where): string[];
  itemState(kind: ItemKind, vault: string, name: string, where?: Where): ItemState;
  /** How long after a purge a restore of the name still answers 409 (2000 ms by default). */
  setPurgeLinger(ms: number): void;
  setVaultScope(vault: string, scope: VaultScope, where?: Where): void;
  readonly requests: RequestRecord[];
  clearRequests(): void;
  inFlightMax(): number;
  faults: Faults;
  /** A token this server accepts; `audience` is the resource (https://vault.azure.net by default; https://managedhsm.azure.net for its HSMs). */
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
