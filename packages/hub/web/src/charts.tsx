// Small SVG charts: a line chart (training curves) and a lineage graph.
export interface Line {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? mag * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

export function LineChart({
  lines,
  xLabel,
  yLabel,
  width = 620,
  height = 280,
}: {
  lines: Line[];
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}) {
  const pts = lines.flatMap((l) => l.points);
  if (pts.length === 0) return <p className="muted">No data.</p>;
  const m = { l: 56, r: 12, t: 12, b: 40 };
  const [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  const sx = (v: number): number => m.l + ((v - x0) / (x1 - x0 || 1)) * (width - m.l - m.r);
  const sy = (v: number): number => height - m.b - ((v - y0) / (y1 - y0 || 1)) * (height - m.t - m.b);
  return (
    <svg className="chart" width={width} height={height} role="img" aria-label={`${yLabel} by ${xLabel}`}>
      <rect x={m.l} y={m.t} width={width - m.l - m.r} height={height - m.t - m.b} fill="#fff" stroke="#ddd" />
      {niceTicks(y0, y1).map((v) => (
        <g key={`y${v}`}>
          <line x1={m.l} x2={width - m.r} y1={sy(v)} y2={sy(v)} stroke="#eee" />
          <text x={m.l - 6} y={sy(v) + 4} textAnchor="end" fontSize="11">
            {v}
          </text>
        </g>
      ))}
      {niceTicks(x0, x1)
        .filter((v) => !pts.every((p) => Number.isInteger(p[0])) || Number.isInteger(v))
        .map((v) => (
          <text key={`x${v}`} x={sx(v)} y={height - m.b + 16} textAnchor="middle" fontSize="11">
            {v}
          </text>
        ))}
      {lines.map((l, i) => (
        <path
          key={l.name}
          d={l.points.map((p, k) => `${k ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('')}
          fill="none"
          stroke={COLORS[i % COLORS.length]}
          strokeWidth={2}
        />
      ))}
      {lines.length > 1 &&
        lines.map((l, i) => (
          <g key={`legend-${l.name}`} transform={`translate(${m.l + 10} ${m.t + 14 + i * 16})`}>
            <rect width="10" height="10" y="-9" fill={COLORS[i % COLORS.length]} />
            <text x="14" fontSize="11">
              {l.name}
            </text>
          </g>
        ))}
      <text x={(m.l + width) / 2} y={height - 6} textAnchor="middle" fontSize="12">
        {xLabel}
      </text>
      <text transform={`translate(14 ${height / 2}) rotate(-90)`} textAnchor="middle" fontSize="12">
        {yLabel}
      </text>
    </svg>
  );
}

export interface LineageNode {
  id: string;
  label: string;
  detail?: string;
}

/** Nodes in columns from sources (left) to this version (right), edges as arrows. */
export function LineageGraph({ columns, edges }: { columns: LineageNode[][]; edges: [string, string][] }) {
  const colW = 220;
  const rowH = 64;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((n, r) => pos.set(n.id, { x: 10 + c * colW, y: 10 + r * rowH })));
  const height = 20 + Math.max(...columns.map((c) => c.length)) * rowH;
  return (
    <svg className="lineage" width={20 + columns.length * colW} height={height} role="img" aria-label="lineage graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#888" />
        </marker>
      </defs>
      {edges.map(([a, b]) => {
        const p = pos.get(a);
        const q = pos.get(b);
        return p && q ? (
          <line key={`${a}-${b}`} x1={p.x + 180} y1={p.y + 22} x2={q.x} y2={q.y + 22} stroke="#888" markerEnd="url(#arrow)" />
        ) : null;
      })}
      {columns.flat().map((n) => {
        const p = pos.get(n.id)!;
        return (
          <g key={n.id} className="node">
            <rect x={p.x} y={p.y} width={180} height={44} rx={6} fill="#f4f7fb" stroke="#7a9cc6" />
            <text x={p.x + 8} y={p.y + 18} fontSize="12" fontWeight="bold">
              {n.label.length > 26 ? `${n.label.slice(0, 25)}…` : n.label}
            </text>
            {n.detail && (
              <text x={p.x + 8} y={p.y + 34} fontSize="11" fill="#555">
                {n.detail.length > 28 ? `${n.detail.slice(0, 27)}…` : n.detail}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
