import type { AbortSignalLike } from '@azure/abort-controller';
import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';
import type { Logger } from './logger.js';
import type { RateChange, RatePacer } from './rate-pacer.js';
import { Limiter } from './throttle-limiter.js';
import { isThrottling, retryAfterMs } from './transient-faults.js';
import { abortableSleep } from './abortable-sleep.js';

export interface VaultThrottleOptions {
  vaultName: string;
  /** The most backups in flight at once for this vault (--concurrency). */
  maxConcurrency: number;
  /** What a throttling answer without a Retry-After counts as, for the pacer's hold (the first back-off). */
  defaultWaitMs: number;
  logger: Logger;
  /** A monotonic clock by default: the pacer keeps send times, and a wall clock set back would stall it. */
  now?: () => number;
  /**
   * The vault's pacer (its request budget, counted as Key Vault does: R × 10 per sliding 10 s
   * window): one per vault for the process, since the service counts a vault's requests whoever
   * sends them (VaultPacers).
   */
  pacer: RatePacer;
}

/**
 * Everything one vault's requests share: a gate of --concurrency attempts on
 * the wire at once (a backup waiting out a Retry-After or a back-off holds no
 * slot), and the pacer that decides when each attempt goes (the 10 s budget,
 * and the lower rate the vault asks for when it throttles). One per vault, so
 * a throttled vault does not slow down another.
 */
export class VaultThrottle {
  private readonly gate: Limiter;
  private readonly pacer: RatePacer;
  private readonly now: () => number;

  constructor(private readonly options: VaultThrottleOptions) {
    this.gate = new Limiter(options.maxConcurrency);
    this.pacer = options.pacer;
    this.now = options.now ?? (() => performance.now());
  }

  /** Requests per second the pacer allows now. */
  get rate(): number {
    return this.pacer.rate(this.now());
  }

  /** Runs one attempt: a slot of the gate, then its turn by the pacer, then `send`, whose answer the pacer learns from. */
  attempt<R extends Pick<PipelineResponse, 'status' | 'headers'>>(send: () => Promise<R>, signal?: AbortSignalLike): Promise<R> {
    return this.gate.run(async () => {
      for (;;) {
        const cuts = this.pacer.cuts;
        const wait = this.pacer.reserve(this.now());
        if (wait > 0) await abortableSleep(wait, signal);
        // A cut while this attempt waited voided its turn: it books one at the new rate.
        if (this.pacer.cuts === cuts) break;
      }
      const sentAt = this.now();
      const response = await send();
      this.observe(response, sentAt);
      return response;
    });
  }

  /**
   * Feeds one answer of the vault, to a request sent at `sentAt`, to the pacer: a throttling answer,
   * or a request it served. Other answers (the challenge's 401, a 404) tell nothing of its rate.
   */
  observe(response: Pick<PipelineResponse, 'status' | 'headers'>, sentAt = this.now()): void {
    const now = this.now();
    let change: RateChange | undefined;
    if (isThrottling(response)) change = this.pacer.throttled(now, retryAfterMs(response) ?? this.options.defaultWaitMs, sentAt);
    else if (response.status < 400) change = this.pacer.served(now, sentAt);
    if (change) this.report(change);
  }

  private report(change: RateChange): void {
    const vault = this.options.vaultName;
    if (change.reason === 'throttled') {
      this.options.logger.verbose(`Vault '${vault}' is throttling; requests per second to it: ${rateText(change.from)} -> ${rateText(change.to)}.`);
    } else {
      this.options.logger.verbose(`Vault '${vault}' stopped throttling; requests per second to it back to ${rateText(change.to)}.`);
    }
  }
}

function rateText(perSecond: number): string {
  return String(Number(perSecond.toPrecision(3)));
}

/**
 * Per attempt (inside the retry policy, so retries are gated and paced too):
 * waits for a slot and the vault's pacer, then tells it how the vault answered.
 */
export function vaultThrottlePolicy(throttle: VaultThrottle): PipelinePolicy {
  return {
    name: 'azkvbVaultThrottle',
    sendRequest: (request, next) => throttle.attempt(() => next(request), request.abortSignal),
  };
}
