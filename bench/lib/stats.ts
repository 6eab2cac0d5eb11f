/** Percentiles, medians and the small summaries every benchmark reports. */

/** The p-th percentile (0-100) of `values` by the nearest-rank method; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Count, min, p50/p95/p99, max and mean, rounded to `digits` decimals. */
export function distribution(values: readonly number[], digits = 1): Distribution {
  const round = (value: number) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);
  const mean = values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
  return {
    count: values.length,
    min: round(values.length === 0 ? Number.NaN : values.reduce((a, b) => Math.min(a, b), Infinity)),
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
    max: round(values.length === 0 ? Number.NaN : values.reduce((a, b) => Math.max(a, b), -Infinity)),
    mean: round(mean),
  };
}

export function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}
