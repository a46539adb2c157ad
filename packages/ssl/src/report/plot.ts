// Small SVG charts for reports: line charts (training curves, label-efficiency curves) and
// scatter plots (embedding maps). Self-contained SVG text, so a report is one file; PNG
// copies come from rasterizing the same SVG with sharp.
import sharp from 'sharp';

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round values 1, 2 and 5 x 10^k between 10^lo and 10^hi (for log axes). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9) out.push(v);
    }
  }
  return out;
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export interface Series {
  name: string;
  points: [number, number][];
  /** Optional +- band per point (e.g. std over seeds). */
  err?: number[];
  dashed?: boolean;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  logX?: boolean;
  /** Show y values as percentages. */
  percent?: boolean;
  /** Category labels for x positions (drawn instead of numbers). */
  xCategories?: string[];
}

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  body: string[];
}

function frame(
  xs: number[],
  ys: number[],
  o: {
    width: number;
    height: number;
    title?: string;
    xLabel?: string;
    yLabel?: string;
    logX?: boolean;
    percent?: boolean;
    xCategories?: string[];
    /** Room kept right of the plot (legend). */
    right?: number;
  },
): Frame {
  const m = { l: 62, r: o.right ?? 16, t: o.title ? 34 : 14, b: 46 };
  const tx = (v: number): number => (o.logX ? Math.log10(v) : v);
  let [x0, x1] = [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.06;
  [y0, y1] = [y0 - pad, y1 + pad];
  const w = o.width - m.l - m.r;
  const h = o.height - m.t - m.b;
  const x = (v: number): number => m.l + ((tx(v) - x0) / (x1 - x0)) * w;
  const y = (v: number): number => m.t + h - ((v - y0) / (y1 - y0)) * h;
  const body: string[] = [`<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="#fff" stroke="#ccc"/>`];
  for (const v of ticks(y0, y1)) {
    body.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    body.push(`<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${o.percent ? `${fmt(v * 100)}%` : fmt(v)}</text>`);
  }
  const xt = o.xCategories
    ? xs.map((v, i) => [v, o.xCategories![i] ?? ''] as const)
    : o.logX
      ? logTicks(x0, x1).map((v) => [v, fmt(v)] as const)
      : ticks(x0, x1).map((v) => [v, fmt(v)] as const);
  for (const [v, label] of xt) {
    body.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${m.t + h}" y2="${m.t + h + 4}" stroke="#999"/>`);
    body.push(`<text x="${x(v).toFixed(1)}" y="${m.t + h + 17}" text-anchor="middle">${esc(label)}</text>`);
  }
  if (o.title) body.push(`<text x="${o.width / 2}" y="20" text-anchor="middle" font-weight="bold" font-size="14">${esc(o.title)}</text>`);
  if (o.xLabel) body.push(`<text x="${m.l + w / 2}" y="${o.height - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  if (o.yLabel) body.push(`<text transform="translate(14 ${m.t + h / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  return { x, y, body };
}

function svg(width: number, height: number, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#333">\n<rect width="100%" height="100%" fill="#fafafa"/>\n${body.join('\n')}\n</svg>\n`;
}

export function lineChart(series: Series[], o: LineChartOptions = {}): string {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const pts = series.flatMap((s) => s.points.map((p, i) => [p[0], p[1], s.err?.[i] ?? 0] as const));
  if (pts.length === 0) return svg(width, height, [`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>`]);
  const withLegend = series.length > 1;
  const f = frame(
    pts.map((p) => p[0]),
    pts.flatMap((p) => [p[1] - p[2], p[1] + p[2]]),
    { ...o, width, height, right: withLegend ? 170 : 16 },
  );
  series.forEach((s, k) => {
    const c = PALETTE[k % PALETTE.length]!;
    if (s.err) {
      const up = s.points.map((p, i) => `${f.x(p[0]).toFixed(1)},${f.y(p[1] + (s.err![i] ?? 0)).toFixed(1)}`);
      const down = s.points.map((p, i) => `${f.x(p[0]).toFixed(1)},${f.y(p[1] - (s.err![i] ?? 0)).toFixed(1)}`).reverse();
      f.body.push(`<polygon points="${[...up, ...down].join(' ')}" fill="${c}" opacity="0.15"/>`);
    }
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${f.x(p[0]).toFixed(1)},${f.y(p[1]).toFixed(1)}`).join('');
    f.body.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.points.length <= 40)
      for (const p of s.points) f.body.push(`<circle cx="${f.x(p[0]).toFixed(1)}" cy="${f.y(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
  });
  if (withLegend)
    legend(
      f.body,
      series.map((s) => s.name),
      width,
    );
  return svg(width, height, f.body);
}

/** Names with colour keys in the `width - 160` column. */
function legend(body: string[], names: string[], width: number): void {
  names.forEach((name, k) => {
    const y = 44 + 16 * k;
    body.push(`<rect x="${width - 160}" y="${y - 9}" width="10" height="10" fill="${PALETTE[k % PALETTE.length]}"/>`);
    body.push(`<text x="${width - 145}" y="${y}">${esc(name)}</text>`);
  });
}

/** Points [x, y, class] coloured by class, with a legend of class names. */
export function scatterPlot(
  points: [number, number, number][],
  classes: string[],
  o: { title?: string; width?: number; height?: number } = {},
): string {
  const width = o.width ?? 640;
  const height = o.height ?? 520;
  const f = frame(
    points.map((p) => p[0]),
    points.map((p) => p[1]),
    { width: width - 150, height, title: o.title },
  );
  for (const [x, y, c] of points) {
    f.body.push(`<circle cx="${f.x(x).toFixed(1)}" cy="${f.y(y).toFixed(1)}" r="2" fill="${PALETTE[c % PALETTE.length]}" opacity="0.7"/>`);
  }
  legend(f.body, classes, width);
  return svg(width, height, f.body);
}

/** The SVG rasterized to PNG (librsvg through sharp). */
export async function svgToPng(svgText: string, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(svgText), { density }).png().toBuffer();
}
