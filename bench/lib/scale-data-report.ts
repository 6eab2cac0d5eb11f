/**
 * The scale-data benchmark's figures as people read them: a Markdown table (printed at the end of
 * the run, pasted into docs/performance.md) and an SVG chart (docs/scale-data.svg), both from the
 * rows the benchmark writes to bench/results/scale-data.json. Plain strings: no chart library.
 */
import type { Distribution } from './stats';
import type { LoadResult } from './load';

/** A target's figures, with the serving process's CPU milliseconds per request (runs since 2026-12-07 19:00). */
export type TargetResult = LoadResult & { serverCpuMsPerRequest?: number };

export interface CatalogueRow {
  products: number;
  seedS: number;
  firstPage: TargetResult;
  deepPage: TargetResult;
  uncachedDeepPage: TargetResult;
  searchMs: Distribution;
  apiRssMiB: number;
}

export interface OrdersRow {
  orders: number;
  seedS: number;
  firstPageMs: Distribution;
  walkMs: Distribution;
  pagesWalked: number;
  listMs: Distribution;
  apiRssMiB: number;
}

const count = (value: number) => value.toLocaleString('en-US');
const cpu = (target: TargetResult) =>
  target.serverCpuMsPerRequest === undefined ? '' : ` (${target.serverCpuMsPerRequest} ms)`;

export function scaleDataTables(catalogue: readonly CatalogueRow[], orders: readonly OrdersRow[]): string {
  const lines = [
    '| products | seeded in | first page req/s / p99 | deep page req/s / p99 (API CPU per request) | deep page, no cache req/s / p99 (CPU per request) | search p50 / p99 | API RSS |',
    '| -------- | --------- | ---------------------- | ------------------------------------------- | ------------------------------------------------- | ---------------- | ------- |',
    ...catalogue.map(
      (row) =>
        `| ${count(row.products)} | ${row.seedS} s | ${count(row.firstPage.requestsPerSecond)} / ${row.firstPage.latencyMs.p99} ms ` +
        `| ${count(row.deepPage.requestsPerSecond)} / ${row.deepPage.latencyMs.p99} ms${cpu(row.deepPage)} ` +
        `| ${count(row.uncachedDeepPage.requestsPerSecond)} / ${row.uncachedDeepPage.latencyMs.p99} ms${cpu(row.uncachedDeepPage)} ` +
        `| ${row.searchMs.p50} / ${row.searchMs.p99} ms | ${row.apiRssMiB} MiB |`,
    ),
    '',
    "| one customer's orders | seeded in | order list p50 / p99 (first page repeated and the walk) | pages walked (p99) | API RSS |",
    '| --------------------- | --------- | ------------------------------------------------------- | ------------------ | ------- |',
    ...orders.map(
      (row) =>
        `| ${count(row.orders)} | ${row.seedS} s | ${row.listMs.p50} / ${row.listMs.p99} ms | ${row.pagesWalked} (${row.walkMs.p99} ms) | ${row.apiRssMiB} MiB |`,
    ),
  ];
  return lines.join('\n');
}

interface Series {
  name: string;
  colour: string;
  points: Array<[x: number, y: number]>;
}

const WIDTH = 320;
const HEIGHT = 240;
const MARGIN = { left: 56, right: 28, top: 28, bottom: 64 };

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round upper bound for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((step) => step * power).find((bound) => bound >= max)!;
}

/** One panel: x on a log scale (the sizes grow tenfold), y linear from 0, a line and dots per series. */
function panel(offsetX: number, title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const xs = [...new Set(series.flatMap((one) => one.points.map(([x]) => x)))].sort((a, b) => a - b);
  const yMax = niceMax(Math.max(...series.flatMap((one) => one.points.map(([, y]) => y))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const [lo, hi] = [Math.log10(xs[0]!), Math.log10(xs.at(-1)!)];
  const px = (x: number) =>
    offsetX + MARGIN.left + (hi === lo ? plotW / 2 : ((Math.log10(x) - lo) / (hi - lo)) * plotW);
  const py = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const parts = [
    `<text x="${offsetX + WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${offsetX + MARGIN.left}" y1="${py(0)}" x2="${offsetX + MARGIN.left + plotW}" y2="${py(0)}" stroke="#444"/>`,
    `<line x1="${offsetX + MARGIN.left}" y1="${MARGIN.top}" x2="${offsetX + MARGIN.left}" y2="${py(0)}" stroke="#444"/>`,
  ];
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const y = py(yMax * fraction);
    parts.push(
      `<line x1="${offsetX + MARGIN.left}" y1="${y}" x2="${offsetX + MARGIN.left + plotW}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${offsetX + MARGIN.left - 4}" y="${y + 4}" text-anchor="end">${count(Math.round(yMax * fraction))}</text>`,
    );
  }
  for (const x of xs) parts.push(`<text x="${px(x)}" y="${py(0) + 14}" text-anchor="middle">${count(x)}</text>`);
  parts.push(
    `<text x="${offsetX + MARGIN.left + plotW / 2}" y="${py(0) + 28}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(${offsetX + 12} ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  series.forEach((one, index) => {
    const path = one.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${one.colour}" stroke-width="2" points="${path}"/>`);
    for (const [x, y] of one.points)
      parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${one.colour}"/>`);
    const legendY = py(0) + 42 + index * 12;
    parts.push(
      `<line x1="${offsetX + MARGIN.left}" y1="${legendY - 4}" x2="${offsetX + MARGIN.left + 16}" y2="${legendY - 4}" stroke="${one.colour}" stroke-width="2"/>`,
      `<text x="${offsetX + MARGIN.left + 20}" y="${legendY}">${escapeXml(one.name)}</text>`,
    );
  });
  return parts.join('\n');
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c'];

/** Three panels: the catalogue's req/s, the catalogue's p99s, the order list's latency; `caption` under them. */
export function scaleDataChart(
  catalogue: readonly CatalogueRow[],
  orders: readonly OrdersRow[],
  caption: string,
): string {
  const byProducts = (pick: (row: CatalogueRow) => number) =>
    catalogue.map((row): [number, number] => [row.products, pick(row)]);
  const byOrders = (pick: (row: OrdersRow) => number) => orders.map((row): [number, number] => [row.orders, pick(row)]);
  const panels = [
    panel(0, 'Catalogue page, req/s', 'products', 'requests per second', [
      {
        name: 'first page (cached)',
        colour: COLOURS[0]!,
        points: byProducts((row) => row.firstPage.requestsPerSecond),
      },
      { name: 'deep page (cached)', colour: COLOURS[1]!, points: byProducts((row) => row.deepPage.requestsPerSecond) },
      {
        name: 'deep page, no cache',
        colour: COLOURS[2]!,
        points: byProducts((row) => row.uncachedDeepPage.requestsPerSecond),
      },
    ]),
    panel(WIDTH, 'Catalogue, p99', 'products', 'milliseconds', [
      { name: 'deep page (cached) p99', colour: COLOURS[1]!, points: byProducts((row) => row.deepPage.latencyMs.p99) },
      { name: 'search p99', colour: COLOURS[0]!, points: byProducts((row) => row.searchMs.p99) },
    ]),
    panel(2 * WIDTH, "One customer's order list", 'orders', 'milliseconds', [
      { name: 'p50', colour: COLOURS[0]!, points: byOrders((row) => row.listMs.p50) },
      { name: 'p99', colour: COLOURS[1]!, points: byOrders((row) => row.listMs.p99) },
    ]),
  ];
  const height = HEIGHT + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${3 * WIDTH}" height="${height}" viewBox="0 0 ${3 * WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...panels,
    `<text x="${(3 * WIDTH) / 2}" y="${height - 6}" text-anchor="middle" fill="#555">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
