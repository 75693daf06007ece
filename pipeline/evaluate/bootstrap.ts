/**
 * Session-level bootstrap for ratio metrics (HR, MRR = a sum over prefixes / the prefix count).
 * Prefixes of one session are not independent, so whole sessions are resampled. Every series is
 * resampled with the same draws, which makes differences between two recommenders paired: their
 * interval is much narrower than the two separate intervals suggest, because the sessions that
 * are hard for one are hard for the other.
 */
import { Rng, seedWords } from "../prng.ts";

/** The stream of draws the bootstrap uses, apart from every other use of the run's seed. */
const BOOTSTRAP_STREAM = 0xb007;

export interface BootstrapOptions {
  iterations: number;
  seed: number;
}

/**
 * Replicates of Σ sums / Σ counts over resampled sessions, for every series at once:
 * `result[series][iteration]`. `counts[s]` is session s's prefix count, `series[j][s]` its sum.
 */
export function bootstrapRatios(
  counts: ArrayLike<number>,
  series: readonly ArrayLike<number>[],
  options: BootstrapOptions,
): Float64Array[] {
  const { iterations } = options;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`bootstrap iterations must be a positive integer, got ${iterations}`);
  }
  const sessions = counts.length;
  const out = series.map(() => new Float64Array(iterations));
  if (sessions === 0) return out.map((values) => values.fill(Number.NaN));
  const rng = Rng.from(...seedWords(options.seed), BOOTSTRAP_STREAM);
  const sums = new Float64Array(series.length);
  for (let b = 0; b < iterations; b++) {
    let total = 0;
    sums.fill(0);
    for (let d = 0; d < sessions; d++) {
      const s = rng.int(sessions);
      total += counts[s] as number;
      for (let j = 0; j < series.length; j++) {
        sums[j] = (sums[j] as number) + ((series[j] as ArrayLike<number>)[s] as number);
      }
    }
    for (let j = 0; j < series.length; j++) {
      (out[j] as Float64Array)[b] = total > 0 ? (sums[j] as number) / total : Number.NaN;
    }
  }
  return out;
}

/** The q-quantile (0..1) of the values, interpolating linearly between order statistics. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (at - lo);
}

/** The central percentile interval holding `level` of the replicates. */
export function percentileInterval(
  replicates: ArrayLike<number>,
  level: number,
): { low: number; high: number; level: number } {
  const tail = (1 - level) / 2;
  return { low: quantile(replicates, tail), high: quantile(replicates, 1 - tail), level };
}
