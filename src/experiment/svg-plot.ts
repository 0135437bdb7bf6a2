/** One line of a plot: points joined in x order, with optional ± error bars. */
export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  /** A thicker line, for a variant of another series. */
  bold?: boolean;
  points: { x: number; y: number; err?: number }[];
}

/** What a line plot shows. */
export interface PlotSpec {
  /** Unique on the page (it names the plot's clip path). */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** A horizontal reference line (the dense model). */
  reference?: { y: number; label: string };
  /** Format y ticks as percentages of 1. */
  percent?: boolean;
}

const escape = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** About five round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** A self-contained SVG line plot (no scripts, no external resources), for HTML reports. */
export function linePlot(p: PlotSpec): string {
  const W = 560;
  const H = 340;
  const m = { left: 64, right: 150, top: 36, bottom: 48 };
  const pts = p.series.flatMap((s) => s.points);
  const xs = pts.map((q) => q.x);
  const ys = [...pts.flatMap((q) => [q.y - (q.err ?? 0), q.y + (q.err ?? 0)]), ...(p.reference ? [p.reference.y] : [])].filter(Number.isFinite);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 0.1, x1 + 0.1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const pad = (y1 - y0 || Math.abs(y1) || 1) * 0.08;
  [y0, y1] = [y0 - pad, y1 + pad];
  const X = (v: number) => m.left + ((v - x0) / (x1 - x0)) * (W - m.left - m.right);
  const Y = (v: number) => H - m.bottom - ((v - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const fmtY = (v: number) => (p.percent ? `${(100 * v).toFixed(Math.abs(y1 - y0) < 0.05 ? 1 : 0)}%` : String(+v.toPrecision(4)));
  const parts: string[] = [];
  const area = `x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}"`;
  const clip = `clip-${p.id}`;
  parts.push(`<defs><clipPath id="${clip}"><rect ${area}/></clipPath></defs><rect ${area} fill="#fff" stroke="#999"/>`);
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/><text x="${m.left - 6}" y="${Y(t) + 4}" text-anchor="end">${fmtY(t)}</text>`);
  }
  for (const t of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${H - m.bottom}" y2="${H - m.bottom + 4}" stroke="#999"/><text x="${X(t)}" y="${H - m.bottom + 17}" text-anchor="middle">${t}</text>`);
  }
  if (p.reference) {
    const y = Y(p.reference.y);
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#000" stroke-dasharray="2,3"/>`);
  }
  parts.push(`<g clip-path="url(#${clip})">`);
  p.series.forEach((s) => {
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ' stroke-dasharray="6,4"' : '';
    if (sorted.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.bold ? 3.5 : 2}"${dash} points="${sorted.map((q) => `${X(q.x).toFixed(1)},${Y(q.y).toFixed(1)}`).join(' ')}"/>`);
    for (const q of sorted) {
      if (q.err) parts.push(`<line x1="${X(q.x)}" x2="${X(q.x)}" y1="${Y(q.y - q.err)}" y2="${Y(q.y + q.err)}" stroke="${s.color}"/>`);
      parts.push(`<circle cx="${X(q.x).toFixed(1)}" cy="${Y(q.y).toFixed(1)}" r="3.5" fill="${s.dashed ? '#fff' : s.color}" stroke="${s.color}" stroke-width="1.5"/>`);
    }
  });
  parts.push('</g>');
  const legend = [...p.series.map((s) => ({ name: s.name, color: s.color, dash: s.dashed ? '6,4' : '', width: s.bold ? 3.5 : 2 })), ...(p.reference ? [{ name: p.reference.label, color: '#000', dash: '2,3', width: 2 }] : [])];
  legend.forEach((l, i) => {
    const y = m.top + 8 + i * 18;
    parts.push(`<line x1="${W - m.right + 12}" x2="${W - m.right + 36}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="${l.width}"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}/><text x="${W - m.right + 42}" y="${y + 4}">${escape(l.name)}</text>`);
  });
  parts.push(`<text x="${m.left + (W - m.left - m.right) / 2}" y="20" text-anchor="middle" font-weight="bold">${escape(p.title)}</text>`);
  parts.push(`<text x="${m.left + (W - m.left - m.right) / 2}" y="${H - 10}" text-anchor="middle">${escape(p.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + (H - m.top - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(p.yLabel)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11" role="img" aria-label="${escape(p.title)}">${parts.join('')}</svg>`;
}
