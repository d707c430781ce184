import type { PipelinePolicy, PipelineRequest, PipelineResponse, RestError, RetryStrategy } from '@azure/core-rest-pipeline';

/**
 * Which failed attempts are retried, and after how long: the one retry
 * strategy of a vault's pipeline, run by the SDK's own `retryPolicy` (which
 * also counts the attempts against --max-retries and does the waiting).
 *
 * - 429, or 503, with Retry-After / retry-after-ms / x-ms-retry-after-ms: as told.
 * - 408, a 429 without a wait (Key Vault always sends one; a proxy may strip
 *   it), 5xx but 501 and 505: exponential back-off with jitter.
 * - A transport fault (a reset, a refused connection, a name that did not
 *   resolve, an attempt that timed out, an answer cut off mid-body): the same.
 * - Anything else is the caller's answer: not retried.
 */
export interface RetryTiming {
  /** First back-off (about 1, 2, 4, 8, 16 s). */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  random?: () => number;
}

/** Back-off with ±20% jitter, so concurrent backups do not retry in lock-step. */
export function backoffMs(attempt: number, options: RetryTiming): number {
  const base = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** attempt);
  const jitter = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.round(base * jitter);
}

/** The wait a throttling answer asks for, in ms, from the headers Key Vault and the SDK use. */
export function retryAfterMs(response: Pick<PipelineResponse, 'headers'>): number | undefined {
  for (const [header, factor] of [['retry-after-ms', 1], ['x-ms-retry-after-ms', 1], ['retry-after', 1000]] as const) {
    const text = response.headers.get(header);
    if (text === undefined || text.trim() === '') continue;
    const value = Number(text);
    if (Number.isFinite(value) && value >= 0) return value * factor;
    if (header === 'retry-after') {
      const date = Date.parse(text);
      if (Number.isFinite(date)) return Math.max(0, date - Date.now());
    }
  }
  return undefined;
}

/** A throttling answer: 429, or 503 that names a wait. */
export function isThrottling(response: Pick<PipelineResponse, 'status' | 'headers'>): boolean {
  return response.status === 429 || (response.status === 503 && retryAfterMs(response) !== undefined);
}

/**
 * Transport faults worth another attempt: the SDK's own list, the timed-out
 * attempt (ETIMEDOUT, see attemptTimeoutPolicy) and a body cut off mid-way
 * (ECONNRESET, from the size cap that reads every body).
 */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ENOTFOUND', 'ENOENT']);

export interface AttemptOutcome {
  /** Retries made so far (0 after the first attempt). */
  retryCount: number;
  response?: Pick<PipelineResponse, 'status' | 'headers'>;
  responseError?: { code?: string };
}

/** How long to wait before the next attempt, or undefined when this outcome is not retried. */
export function retryWaitMs(outcome: AttemptOutcome, timing: RetryTiming): number | undefined {
  const { response } = outcome;
  if (response !== undefined) {
    const { status } = response;
    if (status === 429 || status === 503) {
      const told = retryAfterMs(response);
      if (told !== undefined) return told;
    }
    const transient = status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
    return transient ? backoffMs(outcome.retryCount, timing) : undefined;
  }
  const code = outcome.responseError?.code;
  return code !== undefined && TRANSIENT_CODES.has(code) ? backoffMs(outcome.retryCount, timing) : undefined;
}

/** The strategy for the SDK's `retryPolicy([strategy], { maxRetries })`. */
export function vaultRetryStrategy(timing: RetryTiming): RetryStrategy {
  return {
    name: 'azkvbVaultRetry',
    retry(state) {
      const wait = retryWaitMs(state, timing);
      // Skipped by the only strategy: the policy returns the answer or throws the error.
      return wait === undefined ? { skipStrategy: true } : { retryAfterInMs: wait };
    },
  };
}

/**
 * The SDK's HTTP client ends an attempt that runs past its timeout with an
 * AbortError, and the retry policy gives up at once on anything but a
 * RestError; this makes such an attempt the transport fault it is, so the
 * strategy retries it. A cancellation the caller asked for stays an AbortError.
 * Runs per attempt, inside the retry policy.
 */
export function attemptTimeoutPolicy(RestErrorClass: typeof RestError): PipelinePolicy {
  return {
    name: 'azkvbAttemptTimeout',
    async sendRequest(request, next) {
      try {
        return await next(request);
      } catch (error) {
        if (!isAttemptTimeout(error, request)) throw error;
        throw new RestErrorClass(`The vault did not answer within ${Math.round(request.timeout / 1000)} s.`, { code: 'ETIMEDOUT', request });
      }
    },
  };
}

/** An abort that came from the per-attempt timeout, not from the caller's cancellation. */
export function isAttemptTimeout(error: unknown, request: Pick<PipelineRequest, 'timeout' | 'abortSignal'>): boolean {
  if (typeof error !== 'object' || error === null) return false;
  return (error as { name?: unknown }).name === 'AbortError' && request.timeout > 0 && request.abortSignal?.aborted !== true;
}
