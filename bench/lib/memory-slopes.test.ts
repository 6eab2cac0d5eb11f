/** The floor slopes the soak reports (unit tier). */
import { secondHalfFloorSlope, slopePerSecond, windowFloors, type MemoryPoint } from './memory-slopes';

/** A process sampled every 10 s whose memory saws by 50 above its floor (a collection every 40 s). */
function sawtooth(runS: number, floorAt: (t: number) => number): MemoryPoint[] {
  const points: MemoryPoint[] = [];
  for (let t = 0; t <= runS; t += 10) points.push({ t, y: floorAt(t) + ((t / 10) % 4) * (50 / 3) });
  return points;
}

describe('windowFloors', () => {
  it('keeps the lowest sample of each window and leaves out samples that are not numbers', () => {
    const floors = windowFloors(
      [
        { t: 0, y: 5 },
        { t: 10, y: 3 },
        { t: 20, y: Number.NaN },
        { t: 120, y: 9 },
        { t: 130, y: 7 },
      ],
      120,
    );
    expect(floors).toEqual([
      { t: 10, y: 3 },
      { t: 130, y: 7 },
    ]);
  });
});

describe('slopePerSecond', () => {
  it('is the least-squares slope, NaN with fewer than two points', () => {
    expect(
      slopePerSecond([
        { t: 0, y: 1 },
        { t: 10, y: 3 },
        { t: 20, y: 5 },
      ]),
    ).toBeCloseTo(0.2);
    expect(slopePerSecond([{ t: 0, y: 1 }])).toBeNaN();
  });
});

describe('secondHalfFloorSlope', () => {
  it('sees a process that grew while it filled and then levelled off as flat', () => {
    // Rises 1 per second for the first half of an hour, then stays.
    const points = sawtooth(3_600, (t) => Math.min(t, 1_800));
    expect(slopePerSecond(windowFloors(points, 120))).toBeGreaterThan(0.3);
    expect(secondHalfFloorSlope(points, 3_600, 120)).toBeCloseTo(0, 6);
  });

  it('keeps the slope of a leak, through the floors rather than the sawtooth', () => {
    const points = sawtooth(3_600, (t) => 0.01 * t);
    expect(secondHalfFloorSlope(points, 3_600, 120)).toBeCloseTo(0.01, 6);
  });
});
