import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { credentialError, credentialFailureDetails, defaultChainFactory } from './credential-chain.js';
import type { BackupError } from './errors.js';
import type { Logger } from './logger.js';

export interface SuppliedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresOnTimestamp: number;
  tenantId?: string;
  /** The resource the token was issued for (https://vault.azure.net); it is only used for that resource's scope. */
  resource?: string;
}

/** Asks the module for a token (a `tokenRequest` line); the answer comes back through supply() or decline(). */
export type TokenRequester = (tenantId: string | undefined) => void;

export interface BackupCredentialSettings {
  /** How long a backup waits for the module to answer a tokenRequest before the own chain is tried. */
  tokenRequestTimeoutMs?: number;
  /**
   * Ask the module before any token was supplied: the credential of a named Az context, whose
   * tokens only the module can give. Without it (the executable's own sign-in) the module is
   * asked only once it has sent a token.
   */
  askBeforeFirstToken?: boolean;
}

// A token handed over by the module (from the user's Az context) is used
// until shortly before it expires, so it cannot expire on the way to the vault.
const EXPIRY_MARGIN_MS = 2 * 60_000;
// How long a failed sign-in is remembered: long enough that a whole pipeline
// fails fast with one error, short enough that a passing fault (an identity
// endpoint restarting) does not fail a long run for good.
const CHAIN_FAILURE_MEMORY_MS = 60_000;
// A sign-in that was refused for a reason other than "no credential here" is
// tried once more after this pause before it counts as failed.
const CHAIN_RETRY_DELAY_MS = 2_000;
const DEFAULT_TOKEN_REQUEST_TIMEOUT_MS = 30_000;

interface Waiter {
  promise: Promise<void>;
  settle(): void;
}

const keyOf = (tenantId: string | undefined): string => (tenantId ?? '').toLowerCase();

/**
 * The credential the executable uses. First the tokens the module supplied
 * from the user's Az context (per tenant; asked for again over the protocol
 * when one is near expiry or the vault's challenge names another tenant, if
 * the module said it can answer); otherwise DefaultAzureCredential.
 *
 * A failure of the own chain is remembered for a minute: the identity does
 * not change between items, so the later backups fail at once with the same
 * error instead of probing IMDS, az and pwsh again each.
 */
export class BackupCredential implements TokenCredential {
  private readonly supplied = new Map<string, SuppliedToken>();
  private latest: SuppliedToken | undefined;
  private requester: TokenRequester | undefined;
  private readonly waiters = new Map<string, Waiter>();
  /** Tenants the module could not or did not answer for: not asked again in this run. */
  private readonly unanswered = new Set<string>();
  private readonly mismatchLogged = new Set<string>();
  private fallback: Promise<TokenCredential> | undefined;
  private readonly chainAttempts = new Map<string, Promise<AccessToken>>();
  private readonly chainFailures = new Map<string, { error: BackupError; at: number }>();
  private readonly tokenRequestTimeoutMs: number;
  private readonly askBeforeFirstToken: boolean;

  constructor(
    private readonly logger: Logger,
    private readonly makeFallback: () => Promise<TokenCredential> = defaultChainFactory(),
    private readonly now: () => number = Date.now,
    settings: BackupCredentialSettings = {},
  ) {
    this.tokenRequestTimeoutMs = settings.tokenRequestTimeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS;
    this.askBeforeFirstToken = settings.askBeforeFirstToken ?? false;
  }

  supply(token: SuppliedToken): void {
    const key = keyOf(token.tenantId);
    this.supplied.set(key, token);
    this.latest = token;
    this.unanswered.delete(key);
    // A token without a tenant answers whatever was asked.
    for (const [waiting, waiter] of this.waiters) if (waiting === key || key === '') waiter.settle();
  }

  /** The module answered a tokenRequest with `tokenUnavailable`. */
  decline(tenantId: string | undefined, reason: string | undefined): void {
    const key = keyOf(tenantId);
    this.unanswered.add(key);
    this.logger.verbose(`The Az context has no token for tenant ${tenantId ?? '(default)'}${reason ? `: ${reason}` : ''}. Signing in by other means.`);
    this.waiters.get(key)?.settle();
  }

  /** Called once the module's hello says it answers tokenRequest. */
  enableTokenRequests(requester: TokenRequester): void {
    this.requester = requester;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    if (!this.suppliedFits(scopes)) return this.fromChain(scopes, options);
    const wanted = options?.tenantId;
    const ready = this.usable(wanted);
    if (ready !== undefined) return ready;

    if ((this.latest !== undefined || this.askBeforeFirstToken) && this.requester !== undefined) {
      // Only a module that has an Az context (it sent a token, or named the context) is asked.
      const tenant = wanted ?? this.latest?.tenantId;
      // Asked twice at most: a token that arrives already inside the expiry margin (a cache's
      // last minutes) is asked for once more, when the module's source has renewed it.
      for (let attempt = 0; attempt < 2 && !this.unanswered.has(keyOf(tenant)) && options?.abortSignal?.aborted !== true; attempt++) {
        await this.ask(tenant, options?.abortSignal);
        // The module answers with its context's Key Vault token: a challenge for another resource
        // (a Managed HSM's) never gets it, and signs in by other means.
        if (!this.suppliedFits(scopes)) break;
        const answered = this.usable(wanted);
        if (answered !== undefined) return answered;
      }
    }
    return this.fromChain(scopes, options);
  }

  /**
   * A supplied token is only ever used for the resource it was issued for, so
   * a server whose challenge names another resource never receives it.
   */
  private suppliedFits(scopes: string | string[]): boolean {
    const resource = this.latest?.resource;
    if (resource === undefined) return true;
    const base = resource.replace(/\/+$/, '').toLowerCase();
    return [scopes].flat().every((scope) => {
      const s = scope.toLowerCase();
      return s === base || s === `${base}/` || s === `${base}/.default` || s === `${base}//.default`;
    });
  }

  private usable(wanted: string | undefined): AccessToken | undefined {
    const fresh = (t: SuppliedToken | undefined): t is SuppliedToken => t !== undefined && t.expiresOnTimestamp - EXPIRY_MARGIN_MS > this.now();
    const candidate = wanted === undefined ? this.latest : (this.supplied.get(keyOf(wanted)) ?? this.supplied.get(''));
    if (fresh(candidate)) return { token: candidate.token, expiresOnTimestamp: candidate.expiresOnTimestamp };
    if (wanted !== undefined && this.latest !== undefined && !this.mismatchLogged.has(keyOf(wanted)) && candidate === undefined) {
      this.mismatchLogged.add(keyOf(wanted));
      this.logger.verbose(`The vault asks for a token from tenant ${wanted}; the Az context's token is for tenant ${this.latest.tenantId ?? '(unknown)'}.`);
    }
    return undefined;
  }

  private ask(tenantId: string | undefined, signal: GetTokenOptions['abortSignal']): Promise<void> {
    const key = keyOf(tenantId);
    let waiter = this.waiters.get(key);
    if (waiter === undefined) {
      let settle!: () => void;
      const promise = new Promise<void>((resolve) => {
        settle = resolve;
      });
      const timer = setTimeout(() => {
        if (this.waiters.get(key) !== created) return;
        this.unanswered.add(key);
        this.logger.verbose(`The module did not answer the token request for tenant ${tenantId ?? '(default)'} within ${this.tokenRequestTimeoutMs / 1000} s. Signing in by other means.`);
        settle();
      }, this.tokenRequestTimeoutMs);
      const created: Waiter = {
        promise: promise.finally(() => {
          clearTimeout(timer);
          if (this.waiters.get(key) === created) this.waiters.delete(key);
        }),
        settle,
      };
      waiter = created;
      this.waiters.set(key, created);
      this.logger.debug(`Asking the module for a Key Vault token for tenant ${tenantId ?? '(default)'}.`);
      this.requester!(tenantId);
    }
    if (signal === undefined) return waiter.promise;
    // A cancelled backup stops waiting; the request stays open for the others.
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', done);
      void waiter.promise.then(done);
    });
  }

  private async fromChain(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const key = `${keyOf(options?.tenantId)}|${[scopes].flat().join(' ')}`;
    const failed = this.chainFailures.get(key);
    if (failed !== undefined && this.now() - failed.at < CHAIN_FAILURE_MEMORY_MS) throw failed.error;
    let attempt = this.chainAttempts.get(key);
    if (attempt === undefined) {
      // Concurrent backups share one sign-in attempt instead of each probing the chain.
      attempt = this.signIn(scopes, options).finally(() => this.chainAttempts.delete(key));
      this.chainAttempts.set(key, attempt);
    }
    try {
      return await attempt;
    } catch (error) {
      const e = credentialError(error, this.latest === undefined ? 'No Az context gave a token.' : 'The Az context had no usable token for this vault.');
      this.chainFailures.set(key, { error: e, at: this.now() });
      throw e;
    }
  }

  private async signIn(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    try {
      return await this.signInOnce(scopes, options);
    } catch (error) {
      if (!isTransientSignInFailure(error)) throw error;
      this.logger.verbose(`Signing in failed in a way that may pass; trying once more in ${CHAIN_RETRY_DELAY_MS / 1000} s.`);
      await new Promise((resolve) => setTimeout(resolve, CHAIN_RETRY_DELAY_MS));
      return this.signInOnce(scopes, options);
    }
  }

  private async signInOnce(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    this.fallback ??= this.makeFallback();
    const started = this.now();
    try {
      const token = await (await this.fallback).getToken(scopes, options);
      if (token === null) throw Object.assign(new Error('The credential chain returned no token.'), { name: 'CredentialUnavailableError' });
      this.logger.debug(`Signed in with the credential chain in ${this.now() - started} ms.`);
      return token;
    } catch (error) {
      this.logger.verbose(`Signing in with the credential chain failed after ${this.now() - started} ms.`);
      for (const detail of credentialFailureDetails(error)) this.logger.verbose(`  ${detail}`);
      throw error;
    }
  }
}

/**
 * "No credential here" (nothing configured, no managed identity, no az) will
 * not change by waiting; anything else (an identity endpoint answering 5xx,
 * a network fault on the way to it) may.
 */
export function isTransientSignInFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; errors?: unknown; statusCode?: unknown; message?: unknown };
  const each = Array.isArray(e.errors) ? (e.errors as Array<{ name?: unknown; statusCode?: unknown; message?: unknown }>) : [e];
  return each.some((x) => {
    if (x.name === 'CredentialUnavailableError') return false;
    const status = typeof x.statusCode === 'number' ? x.statusCode : undefined;
    if (status !== undefined) return status === 408 || status === 429 || status >= 500;
    return typeof x.message === 'string' && /ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|socket hang up|timed? ?out/i.test(x.message);
  });
}
