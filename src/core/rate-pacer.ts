/**
 * Decides when each attempt to one vault may go. Two rules, both about rate:
 *
 * 1. The budget the service counts: Key Vault allows 4,000 secret operations
 *    per 10 s per vault, over a sliding window. The pacer remembers when each
 *    request of the last window went and lets a request go at once while the
 *    window has room, so a burst that fits in the budget (a 60-, 200- or
 *    3,000-item pipeline) is never slowed. When the window is full, a request
 *    waits until the oldest one leaves it. Once requests have had to wait, each
 *    further one also keeps `window / budget` after the one before, for as long
 *    as requests keep queueing: otherwise the window would replay the shape of
 *    the first burst (all at once, a stall, all at once again), and the
 *    service's windows, which see our requests shifted by network latency,
 *    could catch more than the budget at the burst edges.
 *
 * 2. What the vault says it can take: when it throttles anyway (other clients
 *    share it, or its limit is lower than the budget assumes), the rate drops to
 *    95% of what the vault served of ours in the answer's Retry-After before the
 *    refused request (at least 1 s, at most the window; counted by send time),
 *    and requests go evenly at that rate once the first of those has left that
 *    span (until then the vault's own window is still full, and sending would
 *    only earn more 429s). Turns booked at the old rate are void. Fewer than 10
 *    served are no measure: the rate is halved instead; and one cut lowers it to
 *    a quarter at most.
 *    Throttling answers to requests sent before a cut took effect (or just
 *    after, at the edge of the vault's window, where the network's jitter
 *    decides) are the same overload. A later one while the vault still serves
 *    more than it refuses (the rate has grown back into the limit, or the 429
 *    came from elsewhere) does not cut again: the rate goes back to the cut's.
 *    The vault refusing more than it serves cuts again at once.
 *    After a hold (1 s, or the Retry-After if longer) the rate grows by 1% a
 *    second (it doubles in about 70 s), so that it probes the vault again only
 *    every few seconds after a small cut; back at the budget's rate, bursts go
 *    at once again.
 *
 * Pure: the caller passes the clock and does the waiting.
 */
export interface RatePacerOptions {
  /** Requests per second, averaged over the window: the window's budget is `perSecond × windowMs / 1000`. */
  perSecond: number;
  /** The window the service counts over; default 10 s. Widened when `perSecond` allows less than one request in it. */
  windowMs?: number;
  /** After a cut's hold, how much the rate grows per second, compounded; default 0.01 (1%). */
  regrowthPerSecond?: number;
}

/** A change of the rate the pacer allows, for diagnostics. */
export interface RateChange {
  from: number;
  to: number;
  reason: 'throttled' | 'recovered';
}

/** Key Vault's window for its per-vault limit. */
export const KEY_VAULT_WINDOW_MS = 10_000;

/** 90% of the documented limit (4,000 per 10 s), so that a vault shared with other clients keeps some headroom. */
export const KEY_VAULT_SECRETS_PER_SECOND = (4_000 / 10) * 0.9;

/** After a throttling answer, requests go at this share of the rate the vault had just accepted. */
const THROTTLED_SHARE = 0.95;
/** Fewer served requests than this in the span are no measure of the vault: the rate is halved instead. */
const MIN_SAMPLE = 10;
/** One cut lowers the rate to a quarter at most, so a 429 that was not about the rate costs little. */
const MAX_CUT = 4;
/** After a cut, the rate does not grow for this long (or for the Retry-After, if longer). */
const MIN_HOLD_MS = 1_000;
/** The edge of the measured span where a throttling answer still belongs to the last cut, as a share of the span. */
const EDGE_SHARE = 0.05;

/** Non-decreasing times in a ring buffer that starts small and doubles as needed. */
class TimeRing {
  private times = new Float64Array(0);
  private head = 0;
  size = 0;

  constructor(private readonly initial: number, private readonly max: number) {}

  oldest(): number {
    return this.times[this.head]!;
  }

  dropOldest(): void {
    this.head = (this.head + 1) % this.times.length;
    this.size--;
  }

  /** Forgets the times that are `spanMs` or more before `now`. */
  dropOutside(now: number, spanMs: number): void {
    while (this.size > 0 && this.oldest() + spanMs <= now) this.dropOldest();
  }

  push(time: number): void {
    if (this.size === this.times.length) this.grow();
    this.times[(this.head + this.size) % this.times.length] = time;
    this.size++;
  }

  /** Forgets the times after `limit`; returns the latest one left. */
  dropAfter(limit: number): number | undefined {
    while (this.size > 0 && this.at(this.size - 1) > limit) this.size--;
    return this.size > 0 ? this.at(this.size - 1) : undefined;
  }

  /** Adds a time that may be a little earlier than the latest ones, keeping the order. */
  insert(time: number): void {
    this.push(time);
    for (let i = this.size - 1; i > 0 && this.at(i - 1) > time; i--) {
      this.set(i, this.at(i - 1));
      this.set(i - 1, time);
    }
  }

  /** The times in (from, to]: how many, and the first of them. */
  between(from: number, to: number): { count: number; first: number | undefined } {
    const low = this.firstAfter(from);
    return { count: this.firstAfter(to) - low, first: low < this.size && this.at(low) <= to ? this.at(low) : undefined };
  }

  /** The first index holding a time after `limit`, by bisection (the times never decrease). */
  private firstAfter(limit: number): number {
    let low = 0;
    let high = this.size;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.at(mid) > limit) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  private at(index: number): number {
    return this.times[(this.head + index) % this.times.length]!;
  }

  private set(index: number, time: number): void {
    this.times[(this.head + index) % this.times.length] = time;
  }

  get capacity(): number {
    return this.times.length;
  }

  private grow(): void {
    const capacity = Math.max(this.size + 1, Math.min(this.max, Math.max(this.initial, this.times.length * 2)));
    const next = new Float64Array(capacity);
    for (let i = 0; i < this.size; i++) next[i] = this.times[(this.head + i) % this.times.length]!;
    this.times = next;
    this.head = 0;
  }
}

/** First ring buffer allocated; it doubles as needed up to the budget (1,000,000 at --max-requests-per-second 100000). */
const INITIAL_CAPACITY = 64;

export class RatePacer {
  /** The most requests any window may hold. */
  readonly budget: number;
  readonly windowMs: number;
  /** The rate of rule 1, in requests per second. */
  readonly perSecond: number;
  /** Between two requests while the pacer is holding requests back. */
  private readonly spacingMs: number;
  /** The natural log of the growth per millisecond after a cut's hold. */
  private readonly logGrowthPerMs: number;
  /** Send times still inside the window, in the order booked (never decreasing). */
  private readonly sent: TimeRing;
  /** When the requests the vault served (not throttling answers) of the last window were sent. */
  private readonly accepted: TimeRing;
  /** When the requests it answered with throttling in the last window were sent. */
  private readonly refused: TimeRing;
  /** The latest time handed out; later requests never go before it. */
  private last = Number.NEGATIVE_INFINITY;
  /** Whether requests are queueing behind a full window. */
  private holding = false;
  /** The rate set by the last cut, while it is below `perSecond`. */
  private cutTo: number | undefined;
  /** Throttling answers to requests sent before this belong to the last cut. */
  private sameOverloadBefore = Number.NEGATIVE_INFINITY;
  /** Until then, the rate does not grow. */
  private holdUntil = Number.NEGATIVE_INFINITY;
  /** After a cut, nothing goes before the vault's window has room again. */
  private notBefore = Number.NEGATIVE_INFINITY;
  private cutCount = 0;

  constructor(options: RatePacerOptions) {
    const { perSecond } = options;
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError('perSecond must be a positive number');
    }
    const windowMs = options.windowMs ?? KEY_VAULT_WINDOW_MS;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new RangeError('windowMs must be a positive number');
    }
    const regrowth = options.regrowthPerSecond ?? 0.01;
    if (!(regrowth > 0) || !Number.isFinite(regrowth)) {
      throw new RangeError('regrowthPerSecond must be a positive number');
    }
    this.perSecond = perSecond;
    // A rate below one request per window gets a window that holds one, so the rate still holds.
    this.windowMs = Math.max(windowMs, 1_000 / perSecond);
    // Rounded down: never more than the rate allows.
    this.budget = Math.max(1, Math.floor((perSecond * this.windowMs) / 1_000 + 1e-9));
    this.spacingMs = this.windowMs / this.budget;
    this.logGrowthPerMs = Math.log1p(regrowth) / 1_000;
    this.sent = new TimeRing(INITIAL_CAPACITY, this.budget);
    this.accepted = new TimeRing(INITIAL_CAPACITY, Number.POSITIVE_INFINITY);
    this.refused = new TimeRing(INITIAL_CAPACITY, Number.POSITIVE_INFINITY);
  }

  /** How many cuts were made: a send time booked before a cut is void, and must be booked again. */
  get cuts(): number {
    return this.cutCount;
  }

  /** Requests per second allowed at `now`: `perSecond`, or less while a cut grows back. */
  rate(now: number): number {
    if (this.cutTo === undefined) return this.perSecond;
    return Math.min(this.perSecond, this.cutTo * Math.exp(this.logGrowthPerMs * Math.max(0, now - this.holdUntil)));
  }

  /** Books a send time; returns how many milliseconds to wait before sending (0: now). */
  reserve(now: number): number {
    // First come, first served: never ahead of a request already booked.
    const earliest = Math.max(now, this.last);
    // Requests that left the window before `earliest` cannot share one with this or any later request.
    this.sent.dropOutside(earliest, this.windowMs);

    // Still holding only while requests keep arriving before the last one booked is due to go.
    if (now >= this.last + this.spacingMs) this.holding = false;

    let slot = Math.max(earliest, this.notBefore);
    if (this.sent.size >= this.budget) {
      // The window is full: wait until its oldest request leaves it.
      slot = Math.max(slot, this.sent.oldest() + this.windowMs);
      this.sent.dropOldest();
      this.holding = true;
    }
    if (this.holding) slot = Math.max(slot, this.last + this.spacingMs);
    // After a cut: evenly, at the rate the vault was found to take.
    const rate = this.rate(now);
    if (rate < this.perSecond) slot = Math.max(slot, this.last + 1_000 / rate);

    this.sent.push(slot);
    this.last = slot;
    return slot - now;
  }

  /**
   * The vault served a request sent at `sentAt` (it counted it). Returns the change when the rate
   * is back to `perSecond`.
   */
  served(now: number, sentAt = now): RateChange | undefined {
    this.accepted.dropOutside(now, this.windowMs);
    this.accepted.insert(sentAt);
    if (this.cutTo === undefined || this.rate(now) < this.perSecond) return undefined;
    const from = this.cutTo;
    this.cutTo = undefined;
    return { from, to: this.perSecond, reason: 'recovered' };
  }

  /**
   * A throttling answer, to a request sent at `sentAt`, that asked for `waitMs` (its Retry-After,
   * or the back-off for one without). Returns the change when the rate was cut.
   */
  throttled(now: number, waitMs: number, sentAt = now): RateChange | undefined {
    const wait = Number.isFinite(waitMs) && waitMs > 0 ? waitMs : 0;
    const hold = now + Math.max(MIN_HOLD_MS, wait);
    this.refused.dropOutside(now, this.windowMs);
    this.refused.insert(sentAt);
    const spanMs = Math.min(this.windowMs, Math.max(1_000, wait));
    // What the vault had counted of ours when it refused this one: those sent in the span before it.
    this.accepted.dropOutside(now, this.windowMs);
    const served = this.accepted.between(sentAt - spanMs, sentAt);
    // Sent before the last cut took effect: the same overload. Or sent after it, while the vault
    // still serves most: the rate has grown back into the vault's limit, or the 429 came from
    // elsewhere (other clients, a busy node); the rate goes back to the last cut's and grows again
    // after the hold, rather than being cut again and again by 429s that are not about it.
    const sameOverload = sentAt < this.sameOverloadBefore;
    const servingMost = this.cutTo !== undefined && this.refused.between(sentAt - spanMs, sentAt).count <= served.count;
    if (sameOverload || servingMost) {
      this.holdUntil = Math.max(this.holdUntil, hold);
      return undefined;
    }
    const from = this.rate(now);
    const measured = served.count >= MIN_SAMPLE;
    const cut = measured ? Math.min(from, (THROTTLED_SHARE * served.count * 1_000) / spanMs) : from / 2;
    const to = Math.max(Math.min(this.perSecond, 1), from / MAX_CUT, cut);
    // The vault's window has room again once the first request it counted has left the span.
    if (measured) this.notBefore = Math.max(this.notBefore, served.first! + spanMs);
    this.sameOverloadBefore = Math.max(now, this.notBefore) + EDGE_SHARE * spanMs;
    this.holdUntil = hold;
    // Send times booked but not yet due were booked at the old rate: void (the callers book again).
    this.last = this.sent.dropAfter(now) ?? Number.NEGATIVE_INFINITY;
    this.cutCount++;
    this.cutTo = to < this.perSecond ? to : undefined;
    return to < from ? { from, to, reason: 'throttled' } : undefined;
  }

  /** For tests: the ring buffers' sizes, to show memory stays bounded. */
  get capacities(): { sent: number; accepted: number } {
    return { sent: this.sent.capacity, accepted: this.accepted.capacity };
  }
}
