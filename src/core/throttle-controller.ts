/**
 * How many backups a vault gets in flight at once, adapted to its answers
 * (additive increase, multiplicative decrease): halve on a throttling answer,
 * then grow back by one after a run of successes.
 *
 * Several requests in flight are throttled together by one overload, so a
 * second 429 within the hold period after a decrease is the same event and
 * does not halve again; growth also waits out the hold, or the limit would
 * climb straight back into the wall the vault just reported.
 */
export interface ThrottleControllerOptions {
  /** Upper bound and starting point: the --concurrency the user asked for. */
  max: number;
  /** Successes needed for +1, at least; the current limit is used when it is larger (about one round of requests). */
  successesPerIncrease?: number;
  /** Shortest hold after a decrease; a longer Retry-After extends it. */
  holdMs?: number;
}

export interface LimitChange {
  from: number;
  to: number;
  reason: 'throttled' | 'recovered';
}

export class ThrottleController {
  private value: number;
  private successes = 0;
  private holdUntil = 0;
  private readonly max: number;
  private readonly successesPerIncrease: number;
  private readonly holdMs: number;

  constructor(options: ThrottleControllerOptions) {
    this.max = Math.max(1, Math.floor(options.max));
    this.value = this.max;
    this.successesPerIncrease = Math.max(1, options.successesPerIncrease ?? 8);
    this.holdMs = Math.max(0, options.holdMs ?? 1_000);
  }

  get limit(): number {
    return this.value;
  }

  /** A 429 (or 503 with Retry-After). Returns the change, if the limit moved. */
  onThrottled(now: number, retryAfterMs?: number): LimitChange | undefined {
    const hold = Math.max(this.holdMs, Number.isFinite(retryAfterMs) ? (retryAfterMs as number) : 0);
    this.successes = 0;
    if (now < this.holdUntil) {
      // Same overload as the decrease just made; only keep the hold long enough.
      this.holdUntil = Math.max(this.holdUntil, now + hold);
      return undefined;
    }
    this.holdUntil = now + hold;
    const from = this.value;
    this.value = Math.max(1, Math.floor(from / 2));
    return this.value !== from ? { from, to: this.value, reason: 'throttled' } : undefined;
  }

  /** Any answer that is not throttling (the request reached the vault and was served). */
  onSuccess(now: number): LimitChange | undefined {
    if (this.value >= this.max || now < this.holdUntil) return undefined;
    this.successes++;
    if (this.successes < Math.max(this.successesPerIncrease, this.value)) return undefined;
    this.successes = 0;
    const from = this.value;
    this.value = from + 1;
    return { from, to: this.value, reason: 'recovered' };
  }
}
