/** The curve's headline and chart from given rates (unit tier: no stack, no timing). */
import { curveChart, PEER_MARKS } from '../lib/curve-chart';
import { sustainableRate, type RateResult } from './curve';

function rate(offeredPerS: number, placeP99: number, errors = 0): RateResult {
  const ms = (p99: number) => ({ count: 10, min: 1, p50: p99 / 2, p95: p99, p99, max: p99, mean: p99 / 2 });
  return {
    offeredPerS,
    arrivals: 10,
    completed: 10 - errors,
    achievedPerS: offeredPerS,
    placeMs: ms(placeP99),
    payMs: ms(placeP99),
    errors,
    shed: 0,
    overTwoSeconds: errors,
    firstErrors: [],
    driverLagP99Ms: 1,
    cpuMsPerCheckout: {},
    machineBusy: 0.5,
  };
}

describe('sustainableRate', () => {
  it('is the highest offered rate under 500 ms with no errors, even when a lower rate came out worse', () => {
    expect(sustainableRate([rate(1, 450), rate(2, 520), rate(4, 480), rate(6, 900)])).toBe(4);
  });

  it('leaves out a rate with any error, however fast', () => {
    expect(sustainableRate([rate(1, 200), rate(2, 210, 1)])).toBe(1);
  });

  it('is 0 when no rate stayed under the line', () => {
    expect(sustainableRate([rate(1, 500), rate(2, 3000)])).toBe(0);
  });
});

describe('curveChart', () => {
  it("draws a point per rate and series, and every peer's label", () => {
    const svg = curveChart([rate(1, 300), rate(2, 400), rate(4, 2000)], 'caption & more');
    expect(svg.match(/<circle /g)).toHaveLength(3 * 4);
    for (const peer of PEER_MARKS) expect(svg).toContain(peer.label);
    expect(svg).toContain('caption &amp; more');
  });
});
