/**
 * Keeps the requests to one vault under a rate (Key Vault allows 4,000 secret
 * operations per 10 s per vault). Each request books the next free slot on a
 * timeline spaced 1/rate apart and waits until its slot; a short burst is
 * allowed after an idle spell, so a lone request never waits. Pure: the caller
 * passes the clock and does the waiting.
 */
export interface RatePacerOptions {
  /** Requests per second. */
  perSecond: number;
  /** Requests that may go at once after an idle spell; default a tenth of a second's worth, at least 1. */
  burst?: number;
}

/** 90% of the documented limit, so that a vault shared with other clients keeps some headroom. */
export const KEY_VAULT_SECRETS_PER_SECOND = (4_000 / 10) * 0.9;

export class RatePacer {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  private next = Number.NEGATIVE_INFINITY;

  constructor(options: RatePacerOptions) {
    if (!(options.perSecond > 0) || !Number.isFinite(options.perSecond)) {
      throw new RangeError('perSecond must be a positive number');
    }
    this.intervalMs = 1_000 / options.perSecond;
    const burst = Math.max(1, Math.floor(options.burst ?? options.perSecond / 10));
    this.toleranceMs = (burst - 1) * this.intervalMs;
  }

  /** Books a slot; returns how many milliseconds to wait before sending (0: now). */
  reserve(now: number): number {
    // Unused slots further back than the burst allowance are gone.
    const slot = Math.max(this.next, now - this.toleranceMs);
    this.next = slot + this.intervalMs;
    return Math.max(0, slot - now);
  }
}
