import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { decodeBase64Url } from './base64url.js';
import { BackupError } from './errors.js';
import type { VaultItemClient, VaultLocation } from './backup.js';
import type { Logger } from './logger.js';
import { KEY_VAULT_SECRETS_PER_SECOND, RatePacer } from './rate-pacer.js';
import { vaultThrottlePolicy, VaultThrottle } from './throttle-policy.js';
import { attemptTimeoutPolicy, vaultRetryStrategy } from './transient-faults.js';
import { sizeCapPolicy } from './size-cap.js';
import { restoredCertificate, restoredKey, restoredSecret } from './restored-item.js';
import { hsmEndpoint, vaultEndpoint, type VaultAddressing } from './vault-address.js';

export interface TransportOptions {
  credential: TokenCredential;
  addressing: VaultAddressing;
  logger: Logger;
  /** Per HTTP attempt; a vault that never answers must not hang a runbook. */
  requestTimeoutMs: number;
  /** Largest backup answer accepted, in bytes of response text. */
  maxResponseBytes: number;
  /** Retries after the first attempt, for 408/429/5xx and transport faults (transient-faults.ts). */
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** Requests on the wire at once per vault at most (a backup waiting to retry holds none). */
  maxConcurrency: number;
  /** Requests per vault at most, retries included: this × 10 in any 10 s window (less while the vault throttles). */
  maxRequestsPerSecond: number;
  /** Each vault's one pacer, shared by every set of clients of a session; by default these clients' own, at maxRequestsPerSecond. */
  pacers?: VaultPacers;
}

/**
 * One pacer per vault endpoint for a whole process: clients for other Az contexts or another
 * -ThrottleLimit still send to the same vault, whose limit counts all of them together.
 */
export class VaultPacers {
  private readonly byVault = new Map<string, RatePacer>();
  constructor(private readonly perSecond: number) {}
  for(vaultUrl: string): RatePacer {
    const key = vaultUrl.toLowerCase();
    let pacer = this.byVault.get(key);
    if (pacer === undefined) {
      pacer = new RatePacer({ perSecond: this.perSecond });
      this.byVault.set(key, pacer);
    }
    return pacer;
  }
}

export const DEFAULT_TRANSPORT = {
  requestTimeoutMs: 60_000,
  // A secret may hold up to 500 versions of up to 25 KB each; the encrypted,
  // base64url-encoded backup of that is well under this.
  maxResponseBytes: 64 * 1024 * 1024,
  maxRetries: 5,
  retryDelayMs: 1_000,
  maxRetryDelayMs: 16_000,
  maxConcurrency: 16,
  maxRequestsPerSecond: KEY_VAULT_SECRETS_PER_SECOND,
} as const;

/** Logs every answer that will be retried, so -Verbose shows throttling. */
function retryLoggingPolicy(logger: Logger): PipelinePolicy {
  return {
    name: 'azkvbRetryLogging',
    async sendRequest(request, next) {
      const started = Date.now();
      try {
        const response = await next(request);
        const path = new URL(request.url).pathname;
        if (response.status === 429 || response.status === 408 || response.status >= 500) {
          const after = response.headers.get('retry-after');
          logger.verbose(
            `The vault answered ${response.status} for ${request.method} ${path}${after !== undefined ? ` (Retry-After: ${after} s)` : ''}; retrying if attempts remain.`,
          );
        } else {
          logger.debug(`${request.method} ${path} -> ${response.status} in ${Date.now() - started} ms`);
        }
        return response;
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        logger.verbose(`Request to the vault failed (${code}); retrying if attempts remain.`);
        throw error;
      }
    },
  };
}

/** The three SDK clients' shared surface that this file uses, so one vault's clients are made alike. */
type ClientOptions = Omit<NonNullable<ConstructorParameters<typeof import('@azure/keyvault-secrets').SecretClient>[2]>, 'serviceVersion'>;

/** One vault's (or Managed HSM's) SDK clients, one per kind as first needed, sharing its throttle. */
interface VaultClients {
  secrets(): Promise<import('@azure/keyvault-secrets').SecretClient>;
  keys(): Promise<import('@azure/keyvault-keys').KeyClient>;
  certificates(): Promise<import('@azure/keyvault-certificates').CertificateClient>;
}

/**
 * One set of SDK clients per vault, created on first use, with that vault's throttle (gate and
 * pacer) shared by its secrets, keys and certificates clients, as the vault counts all of them.
 * The SDKs are imported here, lazily, so --help and --version never pay for loading them.
 *
 * The pipeline's hooks (docs/reliability.md, "Retries and throttling"):
 * the SDK's own retry policy is left at no retries, and ONE retryPolicy from
 * the SDK, with our one strategy (vaultRetryStrategy), runs each attempt and
 * decides whether and after how long to retry it. Inside it, per attempt:
 * log what will be retried, wait for the vault's pacer and tell it the
 * answer, turn a timed-out attempt into a retriable transport error, and
 * read the body under the size cap.
 */
export function createVaultClients(options: TransportOptions): (vaultName: string, location?: VaultLocation) => VaultItemClient {
  const vaults = new Map<string, VaultItemClient>();
  const pacers = options.pacers ?? new VaultPacers(options.maxRequestsPerSecond);
  const connect = (vaultName: string, location: VaultLocation | undefined): VaultClients => {
    const endpoint =
      location?.hsm === true
        ? hsmEndpoint(vaultName, options.addressing)
        : vaultEndpoint(vaultName, location?.dnsSuffix !== undefined ? { ...options.addressing, dnsSuffix: location.dnsSuffix } : options.addressing);
    const throttle = new VaultThrottle({
      vaultName,
      maxConcurrency: options.maxConcurrency,
      defaultWaitMs: options.retryDelayMs,
      logger: options.logger,
      pacer: pacers.for(endpoint.url),
    });
    const timing = { retryDelayMs: options.retryDelayMs, maxRetryDelayMs: options.maxRetryDelayMs };
    const clientOptions = import('@azure/core-rest-pipeline').then(({ retryPolicy, RestError }): ClientOptions => ({
      disableChallengeResourceVerification: endpoint.relaxChallengeResourceCheck,
      // The SDK's default retry policy (its throttling and exponential strategies) makes one pass
      // and no retries: the clients keep their pipelines private, so it cannot be removed by name.
      retryOptions: { maxRetries: 0 },
      // All after the SDK's Sign step, in this order: the retry loop, then per attempt inside it.
      additionalPolicies: [
        { policy: retryPolicy([vaultRetryStrategy(timing)], { maxRetries: options.maxRetries }), position: 'perRetry' },
        { policy: retryLoggingPolicy(options.logger), position: 'perRetry' },
        { policy: vaultThrottlePolicy(throttle), position: 'perRetry' },
        { policy: attemptTimeoutPolicy(RestError), position: 'perRetry' },
        { policy: sizeCapPolicy(options.maxResponseBytes), position: 'perRetry' },
      ],
      userAgentOptions: { userAgentPrefix: 'az-keyvault-backup' },
    }));
    const once = <T>(make: () => Promise<T>): (() => Promise<T>) => {
      let made: Promise<T> | undefined;
      return () => (made ??= make());
    };
    return {
      secrets: once(async () => new (await import('@azure/keyvault-secrets')).SecretClient(endpoint.url, options.credential, await clientOptions)),
      keys: once(async () => new (await import('@azure/keyvault-keys')).KeyClient(endpoint.url, options.credential, await clientOptions)),
      certificates: once(async () => new (await import('@azure/keyvault-certificates')).CertificateClient(endpoint.url, options.credential, await clientOptions)),
    };
  };
  const itemClient = (vaultName: string, hsm: boolean, clients: VaultClients): VaultItemClient => {
    const request = (signal: AbortSignal | undefined) => ({ abortSignal: signal, requestOptions: { timeout: options.requestTimeoutMs } });
    return {
      async backup(kind, name, { signal }) {
        let rawValue: unknown;
        let sawBody = false;
        const onResponse = (response: { status: number; bodyAsText?: string | null; headers: { get(name: string): string | undefined } }): void => {
          if (response.status !== 200) return;
          sawBody = true;
          rawValue = parseValue(response.bodyAsText, response.headers.get('content-type'));
        };
        const opts = { ...request(signal), onResponse };
        if (kind === 'secret') await (await clients.secrets()).backupSecret(name, opts);
        else if (kind === 'key') await (await clients.keys()).backupKey(name, opts);
        else await (await clients.certificates()).backupCertificate(name, opts);
        if (!sawBody) {
          throw new BackupError('Service', 'The vault answered without a backup body.', { code: 'InvalidResponse' });
        }
        // Decoded here, strictly, rather than trusting the SDK's lenient
        // decoder: a corrupted answer must fail, not become a corrupted file.
        return decodeBase64Url(rawValue);
      },
      async restore(kind, backup, { signal }) {
        if (kind === 'secret') return restoredSecret(vaultName, await (await clients.secrets()).restoreSecretBackup(backup, request(signal)));
        if (kind === 'key') return restoredKey(vaultName, await (await clients.keys()).restoreKeyBackup(backup, request(signal)), hsm);
        return restoredCertificate(vaultName, await (await clients.certificates()).restoreCertificateBackup(backup, request(signal)));
      },
      async exists(kind, name, { signal }) {
        try {
          if (kind === 'secret') {
            // The versions' list, not the secret: looking must never fetch a secret's value.
            const pages = (await clients.secrets()).listPropertiesOfSecretVersions(name, request(signal)).byPage({ maxPageSize: 1 });
            const first = await pages.next();
            return first.done !== true && first.value.length > 0;
          }
          if (kind === 'key') await (await clients.keys()).getKey(name, request(signal));
          else await (await clients.certificates()).getCertificate(name, request(signal));
          return true;
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode === 404) return false;
          throw error;
        }
      },
    };
  };
  return (vaultName, location) => {
    const hsm = location?.hsm === true;
    const key = `${vaultName.toLowerCase()}|${hsm ? 'hsm' : (location?.dnsSuffix ?? '')}`;
    let client = vaults.get(key);
    if (client === undefined) {
      client = itemClient(vaultName, hsm, connect(vaultName, location));
      vaults.set(key, client);
    }
    return client;
  };
}

function parseValue(text: string | null | undefined, contentType: string | undefined): unknown {
  // A 200 that is not JSON is a proxy's or captive portal's page, not the vault's answer.
  if (contentType !== undefined && contentType !== '' && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType.trim())) {
    throw new BackupError('Service', `The vault answered 200 with a body that is not JSON (content type '${contentType}').`, { code: 'InvalidResponse', status: 200 });
  }
  if (text === undefined || text === null || text.length === 0) {
    throw new BackupError('Service', 'The vault answered 200 with an empty body.', { code: 'InvalidResponse', status: 200 });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BackupError('Service', 'The vault answered 200 with a body that is not JSON.', { code: 'InvalidResponse', status: 200 });
  }
  if (typeof body !== 'object' || body === null) {
    throw new BackupError('Service', 'The vault answered 200 with a body that is not a JSON object.', { code: 'InvalidResponse', status: 200 });
  }
  return (body as { value?: unknown }).value;
}
