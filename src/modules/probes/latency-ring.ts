/** The longest stretch of latencies a probe keeps for the status page's sparkline. */
const WINDOW_MS = 60 * 60 * 1000;
/** A 1 s probe would keep 3600; past this many points a sparkline shows nothing more. */
const MAX_POINTS = 720;

/** How many checks cover the last hour at `intervalMs`, bounded so a fast probe stays small. */
export function ringCapacity(intervalMs: number): number {
  return Math.max(2, Math.min(MAX_POINTS, Math.ceil(WINDOW_MS / Math.max(1, intervalMs))));
}

/** The latest check latencies of one probe, oldest overwritten first; NaN marks a failed check. */
export class LatencyRing {
  private readonly values: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  push(latencyMs: number | null): void {
    this.values[this.next] = latencyMs ?? Number.NaN;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Oldest first; null for a failed check. */
  list(): Array<number | null> {
    const out: Array<number | null> = [];
    for (let i = 0; i < this.count; i++) {
      const value = this.values[(this.next - this.count + i + this.capacity) % this.capacity]!;
      out.push(Number.isNaN(value) ? null : value);
    }
    return out;
  }
}
