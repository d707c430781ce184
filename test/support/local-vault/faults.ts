import type { Fault, FaultMatch, Faults, ItemKind, Operation } from './types.js';

interface Armed {
  match: FaultMatch;
  fault: Fault;
  remaining: number;
}

export interface RequestKey {
  vault?: string;
  name?: string;
  operation?: Operation;
  kind?: ItemKind;
}

/** Scripted faults, latency and a per-vault rate limit, shared by both endpoints. */
export class FaultState implements Faults {
  latencyMs: number;
  private armed: Armed[] = [];
  private perSecond: number | null = null;
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly defaultLatencyMs: number) {
    this.latencyMs = defaultLatencyMs;
  }

  add(match: FaultMatch, fault: Fault, times = 1): void {
    if (!(times > 0)) throw new RangeError('times must be positive (Infinity allowed)');
    this.armed.push({ match, fault, remaining: times });
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  setRateLimit(perSecond: number | null): void {
    this.perSecond = perSecond;
    this.windows.clear();
  }

  clear(): void {
    this.armed = [];
    this.perSecond = null;
    this.windows.clear();
    this.latencyMs = this.defaultLatencyMs;
  }

  /** The first armed fault matching this request, consuming one of its uses. */
  take(key: RequestKey): Fault | undefined {
    const index = this.armed.findIndex((a) => matches(a.match, key));
    if (index < 0) return undefined;
    const armed = this.armed[index]!;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.armed.splice(index, 1);
    return armed.fault;
  }

  /**
   * Seconds to wait if this request is over the limit; otherwise counts it and
   * returns undefined. Throttled requests are not counted, like the service.
   */
  throttle(vault: string, now = Date.now()): number | undefined {
    if (this.perSecond === null) return undefined;
    const key = vault.toLowerCase();
    const window = (this.windows.get(key) ?? []).filter((t) => t > now - 1000);
    this.windows.set(key, window);
    if (window.length >= this.perSecond) {
      const oldest = window[0] ?? now;
      return Math.max(1, Math.ceil((oldest + 1000 - now) / 1000));
    }
    window.push(now);
    return undefined;
  }
}

function matches(match: FaultMatch, key: RequestKey): boolean {
  // The token endpoint is only faulted when a test asks for it by name.
  if (key.operation === 'token' && match.operation !== 'token') return false;
  if (match.operation !== undefined && match.operation !== key.operation) return false;
  if (match.kind !== undefined && match.kind !== key.kind) return false;
  if (match.vault !== undefined && match.vault.toLowerCase() !== key.vault?.toLowerCase()) return false;
  if (match.name !== undefined && match.name.toLowerCase() !== key.name?.toLowerCase()) return false;
  return true;
}

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'status':
      return `status ${fault.status}${fault.code ? ` ${fault.code}` : ''}`;
    case 'body':
      return `body${fault.status ? ` ${fault.status}` : ''}`;
    default:
      return fault.kind;
  }
}
