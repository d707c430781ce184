/**
 * Keeps the requests to one vault within the budget the service counts:
 * Key Vault allows 4,000 secret operations per 10 s per vault, over a sliding
 * window. The pacer remembers when each request of the last window went (a
 * ring buffer of at most `budget` entries) and lets a request go at once while
 * the window has room, so a burst that fits in the budget (a 60-, 200- or
 * 3,000-item pipeline) is never slowed. When the window is full, a request
 * waits until the oldest one leaves it.
 *
 * Sustained load is spread: once requests have had to wait, each further one
 * also keeps `window / budget` after the one before, for as long as requests
 * keep queueing. Without that, the window would replay the shape of the first
 * burst (everything at once, then a stall, then everything at once again),
 * and the service's own windows, which see our requests shifted by varying
 * network latency, could catch more than the budget at the burst edges.
 * With it, a long run settles at an even `budget / window`.
 *
 * Pure: the caller passes the clock and does the waiting.
 */
export interface RatePacerOptions {
  /** Requests per second, averaged over the window: the window's budget is `perSecond × windowMs / 1000`. */
  perSecond: number;
  /** The window the service counts over; default 10 s. Widened when `perSecond` allows less than one request in it. */
  windowMs?: number;
}

/** Key Vault's window for its per-vault limit. */
export const KEY_VAULT_WINDOW_MS = 10_000;

/** 90% of the documented limit (4,000 per 10 s), so that a vault shared with other clients keeps some headroom. */
export const KEY_VAULT_SECRETS_PER_SECOND = (4_000 / 10) * 0.9;

/** First ring buffer allocated; it doubles as needed up to the budget (1,000,000 at --max-requests-per-second 100000). */
const INITIAL_CAPACITY = 64;

export class RatePacer {
  /** The most requests any window may hold. */
  readonly budget: number;
  readonly windowMs: number;
  /** Between two requests while the pacer is holding requests back. */
  private readonly spacingMs: number;
  /** Send times still inside the window, oldest at `head`, in the order booked (never decreasing). */
  private times = new Float64Array(0);
  private head = 0;
  private size = 0;
  /** The latest time handed out; later requests never go before it. */
  private last = Number.NEGATIVE_INFINITY;
  /** Whether requests are queueing behind a full window. */
  private holding = false;

  constructor(options: RatePacerOptions) {
    const { perSecond } = options;
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError('perSecond must be a positive number');
    }
    const windowMs = options.windowMs ?? KEY_VAULT_WINDOW_MS;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new RangeError('windowMs must be a positive number');
    }
    // A rate below one request per window gets a window that holds one, so the rate still holds.
    this.windowMs = Math.max(windowMs, 1_000 / perSecond);
    // Rounded down: never more than the rate allows.
    this.budget = Math.max(1, Math.floor((perSecond * this.windowMs) / 1_000 + 1e-9));
    this.spacingMs = this.windowMs / this.budget;
  }

  /** Books a send time; returns how many milliseconds to wait before sending (0: now). */
  reserve(now: number): number {
    // First come, first served: never ahead of a request already booked.
    const earliest = Math.max(now, this.last);
    // Requests that left the window before `earliest` cannot share one with this or any later request.
    while (this.size > 0 && this.oldest() + this.windowMs <= earliest) this.dropOldest();

    // Still holding only while requests keep arriving before the last one booked is due to go.
    if (now >= this.last + this.spacingMs) this.holding = false;

    let slot = earliest;
    if (this.size >= this.budget) {
      // The window is full: wait until its oldest request leaves it.
      slot = Math.max(slot, this.oldest() + this.windowMs);
      this.dropOldest();
      this.holding = true;
    }
    if (this.holding) slot = Math.max(slot, this.last + this.spacingMs);

    this.push(slot);
    this.last = slot;
    return slot - now;
  }

  private oldest(): number {
    return this.times[this.head]!;
  }

  private dropOldest(): void {
    this.head = (this.head + 1) % this.times.length;
    this.size--;
  }

  private push(time: number): void {
    if (this.size === this.times.length) this.grow();
    this.times[(this.head + this.size) % this.times.length] = time;
    this.size++;
  }

  /** Doubles the ring buffer, up to the budget, keeping the order. */
  private grow(): void {
    const capacity = Math.min(this.budget, Math.max(INITIAL_CAPACITY, this.times.length * 2));
    const next = new Float64Array(capacity);
    for (let i = 0; i < this.size; i++) next[i] = this.times[(this.head + i) % this.times.length]!;
    this.times = next;
    this.head = 0;
  }
}
