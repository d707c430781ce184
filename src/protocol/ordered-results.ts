/**
 * Emits results in the order their requests arrived, each as soon as it and
 * everything before it are done: concurrency without reordering the pipeline.
 */
export class OrderedResults<T> {
  private readonly slots: Array<{ done: boolean; value?: T }> = [];
  private head = 0;

  constructor(private readonly emit: (value: T) => void) {}

  /** Reserves the next position; call the returned function once with its result. */
  reserve(): (value: T) => void {
    const slot: { done: boolean; value?: T } = { done: false };
    this.slots.push(slot);
    return (value: T) => {
      slot.done = true;
      slot.value = value;
      this.flush();
    };
  }

  get pending(): number {
    return this.slots.length - this.head;
  }

  private flush(): void {
    while (this.head < this.slots.length && this.slots[this.head]!.done) {
      const slot = this.slots[this.head]!;
      this.slots[this.head] = { done: true };
      this.head++;
      this.emit(slot.value as T);
    }
    // Drop the emitted prefix now and then so memory stays flat on long runs.
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
  }
}
