// Latency histogram with 1 % relative precision in fixed memory (log buckets), mergeable
// across load-generator processes, for p50/p99/p999 without keeping every sample.

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** 1 µs … ≈ 100 s. */
const BUCKETS = 1900;

export interface HistogramJson {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** [bucket index, count] for the non-empty buckets. */
  buckets: Array<[number, number]>;
}

export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  /** Record one value in microseconds. */
  record(us: number): void {
    const index = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH));
    this.#counts[index] = this.#counts[index]! + 1;
    this.count += 1;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  /** The value at quantile q (0..1), in µs: the bucket's upper bound, capped by the exact max. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index += 1) {
      seen += this.#counts[index]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, GROWTH ** index));
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  merge(other: Histogram | HistogramJson): void {
    const json = other instanceof Histogram ? other.toJSON() : other;
    for (const [index, count] of json.buckets) this.#counts[index] = this.#counts[index]! + count;
    this.count += json.count;
    this.sum += json.sum;
    if (json.count > 0) {
      this.min = Math.min(this.min, json.min);
      this.max = Math.max(this.max, json.max);
    }
  }

  toJSON(): HistogramJson {
    const buckets: Array<[number, number]> = [];
    for (let index = 0; index < BUCKETS; index += 1) {
      const count = this.#counts[index]!;
      if (count > 0) buckets.push([index, count]);
    }
    return { count: this.count, min: this.count === 0 ? 0 : this.min, max: this.max, sum: this.sum, buckets };
  }

  static from(json: HistogramJson): Histogram {
    const histogram = new Histogram();
    histogram.merge(json);
    return histogram;
  }
}

/** Exact quantile of a small array of numbers (sorted copy); NaN when empty. */
export function quantileOf(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
