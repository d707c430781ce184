import type { AbortSignalLike } from '@azure/abort-controller';
import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';
import type { Logger } from './logger.js';
import { RatePacer } from './rate-pacer.js';
import { ThrottleController, type LimitChange } from './throttle-controller.js';
import { Limiter } from './throttle-limiter.js';

export interface VaultThrottleOptions {
  vaultName: string;
  /** The most backups in flight at once for this vault (--concurrency). */
  maxConcurrency: number;
  /** Requests per second to this vault at most, retries included, counted as Key Vault does: R × 10 per sliding 10 s window. */
  maxRequestsPerSecond: number;
  logger: Logger;
  /** A monotonic clock by default: the pacer keeps send times, and a wall clock set back would stall it. */
  now?: () => number;
}

/**
 * Everything one vault's requests share: a gate whose width the AIMD
 * controller sets from the vault's answers, and a pacer that keeps any 10 s
 * window within the vault's request budget.
 * One per vault, so a throttled vault does not slow down another.
 */
export class VaultThrottle {
  private readonly gate: Limiter;
  private readonly controller: ThrottleController;
  private readonly pacer: RatePacer;
  private readonly now: () => number;

  constructor(private readonly options: VaultThrottleOptions) {
    this.controller = new ThrottleController({ max: options.maxConcurrency });
    this.gate = new Limiter(this.controller.limit);
    this.pacer = new RatePacer({ perSecond: options.maxRequestsPerSecond });
    this.now = options.now ?? (() => performance.now());
  }

  get limit(): number {
    return this.controller.limit;
  }

  /** Runs one whole operation (all its attempts) inside the vault's gate. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return this.gate.run(task);
  }

  /** Waits, if the vault's 10 s window is full, for this attempt's turn. */
  async pace(signal?: AbortSignalLike): Promise<void> {
    const wait = this.pacer.reserve(this.now());
    if (wait > 0) await sleep(wait, signal);
  }

  /** Feeds one answer of the vault to the controller. */
  observe(response: PipelineResponse): void {
    const throttled = response.status === 429 || (response.status === 503 && retryAfterMs(response) !== undefined);
    const change = throttled ? this.controller.onThrottled(this.now(), retryAfterMs(response)) : this.controller.onSuccess(this.now());
    if (change) this.apply(change);
  }

  private apply(change: LimitChange): void {
    this.gate.setLimit(change.to);
    const vault = this.options.vaultName;
    if (change.reason === 'throttled') {
      this.options.logger.verbose(`Vault '${vault}' is throttling; backups in flight at once: ${change.from} -> ${change.to}.`);
    } else if (change.to === this.options.maxConcurrency) {
      this.options.logger.verbose(`Vault '${vault}' stopped throttling; backups in flight at once back to ${change.to}.`);
    } else {
      this.options.logger.debug(`Vault '${vault}': backups in flight at once ${change.from} -> ${change.to}.`);
    }
  }
}

function sleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = (): void => {
      clearTimeout(timer);
      const error = new Error('The backup was cancelled.');
      error.name = 'AbortError';
      reject(error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    if (signal?.aborted) aborted();
    else signal?.addEventListener('abort', aborted, { once: true });
  });
}

/** The wait a throttling answer asks for, in ms, from the headers the SDK's retry policy also honours. */
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

/**
 * Per attempt (after the SDK's retry policy): waits for the vault's pacer,
 * then tells the controller how the vault answered.
 */
export function vaultThrottlePolicy(throttle: VaultThrottle): PipelinePolicy {
  return {
    name: 'azkvbVaultThrottle',
    async sendRequest(request, next) {
      await throttle.pace(request.abortSignal);
      const response = await next(request);
      throttle.observe(response);
      return response;
    },
  };
}
