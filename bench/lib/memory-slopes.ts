/**
 * How fast a process's memory rises, from samples that saw up and down with V8's collections: the
 * least-squares slope through the lowest sample of each window (the floor the collector leaves,
 * what a leak raises), not through every sample (which leans wherever the last highs fell).
 */

/** A sample: `t` in seconds since the run began, `y` in any unit (a slope is in that unit per second). */
export interface MemoryPoint {
  t: number;
  y: number;
}

/** The lowest sample of each `windowS`-second window (samples that are not numbers left out). */
export function windowFloors(points: ReadonlyArray<MemoryPoint>, windowS: number): MemoryPoint[] {
  const windows = new Map<number, MemoryPoint>();
  for (const point of points) {
    if (!Number.isFinite(point.y)) continue;
    const key = Math.floor(point.t / windowS);
    const lowest = windows.get(key);
    if (!lowest || point.y < lowest.y) windows.set(key, point);
  }
  return [...windows.values()];
}

/** Least-squares slope of y over t, per second; NaN with fewer than two usable points. */
export function slopePerSecond(points: ReadonlyArray<MemoryPoint>): number {
  const usable = points.filter((point) => Number.isFinite(point.y));
  if (usable.length < 2) return Number.NaN;
  const meanT = usable.reduce((sum, point) => sum + point.t, 0) / usable.length;
  const meanY = usable.reduce((sum, point) => sum + point.y, 0) / usable.length;
  const numerator = usable.reduce((sum, point) => sum + (point.t - meanT) * (point.y - meanY), 0);
  const denominator = usable.reduce((sum, point) => sum + (point.t - meanT) ** 2, 0);
  return denominator === 0 ? Number.NaN : numerator / denominator;
}

/** The floor slope (per second) of the windows at or after `fromS`. */
export function floorSlopeFrom(points: ReadonlyArray<MemoryPoint>, fromS: number, windowS: number): number {
  return slopePerSecond(
    windowFloors(
      points.filter((point) => point.t >= fromS),
      windowS,
    ),
  );
}

/**
 * The floor slope over the second half of a run of `runS` seconds: a process that grows while its
 * caches and pools fill and then levels off shows a slope over the whole run that the second half
 * does not; a leak keeps its slope in both.
 */
export function secondHalfFloorSlope(points: ReadonlyArray<MemoryPoint>, runS: number, windowS: number): number {
  return floorSlopeFrom(points, runS / 2, windowS);
}
