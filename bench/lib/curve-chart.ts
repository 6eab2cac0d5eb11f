/**
 * The latency-throughput curve as an SVG (docs/performance-curve.svg): placement and payment
 * p50/p99 against the offered rate, y on a log scale, the 500 ms line that decides
 * `sustainable_checkouts_per_s`, and beside the plot the figures other engines publish, as
 * labelled marks at their latency (measured on other machines and workloads: see
 * docs/performance.md, "Latency against throughput"). Plain strings: no chart library.
 *
 *   npx tsx bench/lib/curve-chart.ts [bench/results/curve.json] [docs/performance-curve.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What the chart reads of one rate of bench/results/curve.json. */
export interface CurvePoint {
  offeredPerS: number;
  placeMs: { p50: number; p99: number };
  payMs: { p50: number; p99: number };
}

/** A published figure: one latency, or a range drawn as a bar. */
export interface PeerMark {
  label: string;
  ms: number;
  upToMs?: number;
}

/** The peers' published figures (sources, machines and workloads in docs/performance.md). */
export const PEER_MARKS: readonly PeerMark[] = [
  { label: 'Temporal Cloud, start call p50', ms: 20 },
  { label: 'Hatchet, per run at 100 runs/s', ms: 40 },
  { label: 'Restate, 3-step handler', ms: 50 },
  { label: 'Inngest, per step', ms: 50, upToMs: 100 },
  { label: 'Temporal Cloud, start call p99', ms: 78 },
];

export const SUSTAINABLE_LINE_MS = 500;

const WIDTH = 880;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 340, top: 36, bottom: 84 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fixed = (value: number) => value.toFixed(1);

const SERIES = [
  { name: 'placement p50', colour: '#1f77b4', dash: '', pick: (point: CurvePoint) => point.placeMs.p50 },
  { name: 'placement p99', colour: '#1f77b4', dash: '6 4', pick: (point: CurvePoint) => point.placeMs.p99 },
  { name: 'payment p50', colour: '#ff7f0e', dash: '', pick: (point: CurvePoint) => point.payMs.p50 },
  { name: 'payment p99', colour: '#ff7f0e', dash: '6 4', pick: (point: CurvePoint) => point.payMs.p99 },
] as const;

/** Powers of ten covering every value (at least 10 ms to 1 s, so the peers and the 500 ms line always show). */
function decades(values: readonly number[]): [low: number, high: number] {
  const finite = values.filter((value) => Number.isFinite(value) && value > 0);
  const low = Math.min(1, Math.floor(Math.log10(Math.min(...finite, 10))));
  const high = Math.max(3, Math.ceil(Math.log10(Math.max(...finite, 1000))));
  return [low, high];
}

/** Labels at least `gap` apart, in order, each as near its own mark as the others allow. */
function spreadLabels(ys: readonly number[], gap: number): number[] {
  const placed: number[] = [];
  for (const y of ys) placed.push(placed.length === 0 ? y : Math.min(y, placed.at(-1)! - gap));
  return placed;
}

export function curveChart(points: readonly CurvePoint[], caption: string): string {
  const [low, high] = decades(points.flatMap((point) => SERIES.map((series) => series.pick(point))));
  const xMax = Math.max(2, ...points.map((point) => point.offeredPerS));
  const px = (x: number) => MARGIN.left + (x / xMax) * PLOT_W;
  const py = (ms: number) => MARGIN.top + PLOT_H - ((Math.log10(ms) - low) / (high - low)) * PLOT_H;
  const bottom = MARGIN.top + PLOT_H;
  const right = MARGIN.left + PLOT_W;
  const parts = [
    `<text x="${MARGIN.left + PLOT_W / 2}" y="20" text-anchor="middle" font-weight="bold">Checkout latency against offered load (open loop, through the API)</text>`,
  ];
  for (let power = low; power <= high; power++) {
    for (const step of power < high ? [1, 2, 5] : [1]) {
      const y = py(step * 10 ** power);
      parts.push(
        `<line x1="${MARGIN.left}" y1="${fixed(y)}" x2="${right}" y2="${fixed(y)}" stroke="${step === 1 ? '#ccc' : '#eee'}"/>`,
      );
      const ms = step * 10 ** power;
      parts.push(
        `<text x="${MARGIN.left - 4}" y="${fixed(y + 4)}" text-anchor="end">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`,
      );
    }
  }
  parts.push(
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#444"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#444"/>`,
  );
  for (const point of points)
    parts.push(
      `<text x="${fixed(px(point.offeredPerS))}" y="${bottom + 14}" text-anchor="middle">${point.offeredPerS}</text>`,
    );
  parts.push(
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${bottom + 30}" text-anchor="middle">offered checkouts per second</text>`,
    `<text transform="translate(14 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">latency from the scheduled arrival (log scale)</text>`,
  );
  const line = py(SUSTAINABLE_LINE_MS);
  parts.push(
    `<line x1="${MARGIN.left}" y1="${fixed(line)}" x2="${right}" y2="${fixed(line)}" stroke="#d62728" stroke-dasharray="2 3"/>`,
    `<text x="${MARGIN.left + 4}" y="${fixed(line - 4)}" fill="#d62728">${SUSTAINABLE_LINE_MS} ms: sustainable while placement p99 is below it with no errors</text>`,
  );
  SERIES.forEach((series, index) => {
    const drawn = points.filter((point) => Number.isFinite(series.pick(point)) && series.pick(point) > 0);
    const path = drawn.map((point) => `${fixed(px(point.offeredPerS))},${fixed(py(series.pick(point)))}`).join(' ');
    const dash = series.dash ? ` stroke-dasharray="${series.dash}"` : '';
    parts.push(`<polyline fill="none" stroke="${series.colour}" stroke-width="2"${dash} points="${path}"/>`);
    for (const point of drawn)
      parts.push(
        `<circle cx="${fixed(px(point.offeredPerS))}" cy="${fixed(py(series.pick(point)))}" r="3" fill="${series.colour}"/>`,
      );
    const legendX = MARGIN.left + (index % 2) * 150;
    const legendY = bottom + 48 + Math.floor(index / 2) * 14;
    parts.push(
      `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 24}" y2="${legendY - 4}" stroke="${series.colour}" stroke-width="2"${dash}/>`,
      `<text x="${legendX + 28}" y="${legendY}">${series.name}</text>`,
    );
  });
  // The peers beside the plot, on the same latency scale: a tick (or a bar for a range) and its label.
  const markX = right + 16;
  parts.push(`<text x="${markX}" y="${MARGIN.top - 8}" font-weight="bold">Published by others (other machines)</text>`);
  const peers = [...PEER_MARKS].sort((a, b) => b.ms - a.ms);
  const labelYs = spreadLabels(
    peers.map((peer) => py(peer.upToMs === undefined ? peer.ms : Math.sqrt(peer.ms * peer.upToMs))),
    13,
  );
  peers.forEach((peer, index) => {
    const y = py(peer.ms);
    const labelY = labelYs[index]!;
    if (peer.upToMs === undefined)
      parts.push(
        `<line x1="${markX}" y1="${fixed(y)}" x2="${markX + 12}" y2="${fixed(y)}" stroke="#555" stroke-width="2"/>`,
      );
    else
      parts.push(
        `<line x1="${markX + 6}" y1="${fixed(py(peer.upToMs))}" x2="${markX + 6}" y2="${fixed(y)}" stroke="#555" stroke-width="4"/>`,
      );
    const text = `${peer.label}: ${peer.upToMs === undefined ? peer.ms : `${peer.ms}–${peer.upToMs}`} ms`;
    parts.push(
      `<line x1="${markX + 12}" y1="${fixed(peer.upToMs === undefined ? y : labelY - 4)}" x2="${markX + 20}" y2="${fixed(labelY - 4)}" stroke="#999"/>`,
      `<text x="${markX + 22}" y="${fixed(labelY)}" fill="#333">${escapeXml(text)}</text>`,
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    `<text x="${WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle" fill="#555">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The caption every chart carries: when, how big a run, on what load. */
export function curveCaption(record: {
  at?: string;
  quick?: boolean;
  machine?: { cores?: number; loadAverage?: number[] };
}): string {
  const day = record.at?.slice(0, 16).replace('T', ' ') ?? 'unknown date';
  const load = record.machine?.loadAverage?.join(' / ') ?? '?';
  return `${record.quick ? 'quick run' : 'full run'} of ${day} UTC, ${record.machine?.cores ?? '?'} cores, everything on one machine (dev server), load ${load} at the start`;
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..', '..');
  const input = process.argv[2] ?? path.join(root, 'bench', 'results', 'curve.json');
  const output = process.argv[3] ?? path.join(root, 'docs', 'performance-curve.svg');
  const record = JSON.parse(readFileSync(input, 'utf8')) as Parameters<typeof curveCaption>[0] & {
    rates: CurvePoint[];
  };
  writeFileSync(output, curveChart(record.rates, curveCaption(record)));
  console.log(`wrote ${output} from ${input}`);
}
