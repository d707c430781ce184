/**
 * A concurrency gate: at most `limit` tasks run at once, the rest wait in
 * order. Each vault's throttle keeps --concurrency attempts on the wire with
 * it; throttling is answered by the pacer's rate, not by narrowing this gate.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  private readonly limit: number;

  constructor(limit: number) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.pump();
    });
    try {
      return await task();
    } finally {
      this.active--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}
