import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';
import { retryAfterMs } from './throttle-policy.js';

export interface TransientFaultOptions {
  /** First back-off for a throttled answer that names no wait (about 1, 2, 4, 8, 16 s). */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  random?: () => number;
}

/** Back-off with ±20% jitter, so concurrent backups do not retry in lock-step. */
export function backoffMs(attempt: number, options: TransientFaultOptions): number {
  const base = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** attempt);
  const jitter = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.round(base * jitter);
}

function relabel(error: object, code: string, message: string): void {
  // The SDK's retry policy only retries RestErrors carrying a system error code.
  const e = error as { name?: string; code?: string; message?: string };
  e.name = 'RestError';
  e.code = code;
  e.message = message;
}

/**
 * Makes the SDK's retry policy retry the faults it would otherwise give up on
 * at once, all of them transient on a real network:
 * - an answer cut off mid-body (RestError PARSE_ERROR without a status);
 * - an attempt that hit the per-request timeout (an AbortError the caller did
 *   not ask for);
 * - a 429 without Retry-After (Key Vault always sends one; a proxy may strip
 *   it), which gets an exponential wait written into the answer's headers.
 * Runs per attempt, inside the retry policy.
 */
export function transientFaultPolicy(options: TransientFaultOptions): PipelinePolicy {
  const attempts = new WeakMap<PipelineRequest, number>();
  return {
    name: 'azkvbTransientFaults',
    async sendRequest(request, next) {
      const attempt = attempts.get(request) ?? 0;
      attempts.set(request, attempt + 1);
      let response;
      try {
        response = await next(request);
      } catch (error) {
        if (isTruncatedAnswer(error)) {
          relabel(error as object, 'ECONNRESET', `The vault's answer was cut off before its end (${(error as Error).message}).`);
        } else if (isAttemptTimeout(error, request)) {
          relabel(error as object, 'ETIMEDOUT', `The vault did not answer within ${Math.round(request.timeout / 1000)} s.`);
        }
        throw error;
      }
      if (response.status === 429 && retryAfterMs(response) === undefined) {
        response.headers.set('retry-after-ms', String(backoffMs(attempt, options)));
      }
      return response;
    },
  };
}

export function isTruncatedAnswer(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown; statusCode?: unknown };
  return e.name === 'RestError' && e.code === 'PARSE_ERROR' && (e.statusCode === undefined || e.statusCode === 0);
}

/** An abort that came from the per-attempt timeout, not from the caller's cancellation. */
export function isAttemptTimeout(error: unknown, request: Pick<PipelineRequest, 'timeout' | 'abortSignal'>): boolean {
  if (typeof error !== 'object' || error === null) return false;
  return (error as { name?: unknown }).name === 'AbortError' && request.timeout > 0 && request.abortSignal?.aborted !== true;
}
