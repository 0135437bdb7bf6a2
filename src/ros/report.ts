import { quantile } from '../core/quantile.ts';
import { linePlot, type Series } from '../experiment/svg-plot.ts';
import type { RecordedMessage } from './mcap-reader.ts';
import { OUTPUT_CHANNELS } from './outputs.ts';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f', '#6b7280', '#b45309'];
const escape = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const seconds = (m: RecordedMessage) => Number(m.logTime) / 1e9;
type KeyValues = { key: string; value: string }[];

/** Mean of `value` over consecutive windows of `width` seconds, as plot points. */
function windows(points: { t: number; v: number }[], width: number, reduce: (vs: number[]) => number): { x: number; y: number }[] {
  const by = new Map<number, number[]>();
  for (const p of points) {
    const w = Math.floor(p.t / width);
    by.set(w, [...(by.get(w) ?? []), p.v]);
  }
  return [...by].sort((a, b) => a[0] - b[0]).map(([w, vs]) => ({ x: (w + 0.5) * width, y: reduce(vs) }));
}

/** Series of every key of the status values matching `pattern` (named by its first group). */
function keyedSeries(samples: { t: number; values: KeyValues }[], pattern: RegExp): Series[] {
  const by = new Map<string, { x: number; y: number }[]>();
  for (const s of samples) {
    for (const kv of s.values) {
      const m = pattern.exec(kv.key);
      const y = Number(kv.value);
      if (m && Number.isFinite(y)) by.set(m[1]!, [...(by.get(m[1]!) ?? []), { x: Math.round(s.t * 10) / 10, y }]);
    }
  }
  return [...by].map(([name, points], i) => ({ name, color: PALETTE[i % PALETTE.length]!, points }));
}

/**
 * A self-contained HTML report of a recording made by `luxcert run --record`: frames/s, latency,
 * certified extent and complete share, dropped frames, and the machine's load, temperatures and
 * power over time, with a summary table. `source` names the file.
 */
export function fieldReport(messages: RecordedMessage[], source: string): string {
  const kp = messages.filter((m) => m.topic === OUTPUT_CHANNELS.keypoints.topic);
  const t0 = messages.length ? Math.min(...messages.map(seconds)) : 0;
  const t = (m: RecordedMessage) => seconds(m) - t0;
  const frames = kp.map((m) => {
    const objs = m.message.objects as { extent: ArrayLike<number>; complete: boolean }[];
    const extent = objs.length ? objs.reduce((a, o) => a + Array.from(o.extent).reduce((p, q) => p + q, 0) / 4, 0) / objs.length : 0;
    return { t: t(m), ok: objs.length > 0, ms: Number(m.message.inference_ms) + Number(m.message.certify_ms), extent, complete: objs.length > 0 && objs.every((o) => o.complete) };
  });
  const ok = frames.filter((f) => f.ok);
  const duration = frames.length > 1 ? frames[frames.length - 1]!.t - frames[0]!.t : 0;
  const diag = messages.filter((m) => m.topic === OUTPUT_CHANNELS.diagnostics.topic).map((m) => ({ t: t(m), values: (m.message.status[0]?.values ?? []) as KeyValues }));
  const system = messages.filter((m) => m.topic === OUTPUT_CHANNELS.system.topic).map((m) => ({ t: t(m), values: (m.message.status[0]?.values ?? []) as KeyValues }));
  const lastValue = (key: string) => Number([...diag].reverse().flatMap((d) => d.values).find((v) => v.key === key)?.value ?? NaN);
  const temps = keyedSeries(system, /^temp (.+) C$/);
  const power = keyedSeries(system, /^power (.+) mW$/);
  const maxTemp = temps.flatMap((s) => s.points.map((p) => ({ name: s.name, y: p.y }))).sort((a, b) => b.y - a.y)[0];
  const lat = ok.map((f) => f.ms);
  const rows: [string, string][] = [
    ['recording', escape(source)],
    ['frames', `${frames.length} (${frames.length - ok.length} without a result)`],
    ['duration', `${duration.toFixed(1)} s`],
    ['frames/s', duration > 0 ? ((frames.length - 1) / duration).toFixed(1) : 'n/a'],
    ['latency (inference + certificate)', lat.length ? `p50 ${quantile(lat, 0.5).toFixed(1)} ms, p99 ${quantile(lat, 0.99).toFixed(1)} ms` : 'n/a'],
    ['certified beyond the identity', ok.length ? `${((100 * ok.filter((f) => f.extent > 0).length) / ok.length).toFixed(1)} % of frames` : 'n/a'],
    ['mean certified extent', ok.length ? `${((100 * ok.reduce((a, f) => a + f.extent, 0)) / ok.length).toFixed(1)} % of the maximum box` : 'n/a'],
    ['whole maximum box certified', ok.length ? `${((100 * ok.filter((f) => f.complete).length) / ok.length).toFixed(1)} % of frames` : 'n/a'],
    ['frames dropped', Number.isFinite(lastValue('frames dropped')) ? String(lastValue('frames dropped')) : 'n/a'],
    ['hottest sensor', maxTemp ? `${escape(maxTemp.name)} ${maxTemp.y.toFixed(1)} °C` : 'no temperature recorded'],
    ['power', power.length ? power.map((s) => `${escape(s.name)} mean ${(s.points.reduce((a, p) => a + p.y, 0) / s.points.length / 1000).toFixed(2)} W`).join(', ') : 'no power rail recorded (tegrastats only)'],
  ];
  const mean = (vs: number[]) => vs.reduce((a, b) => a + b, 0) / vs.length;
  // Per-second windows; the last, partial one would understate the frame rate.
  const whole = ok.filter((f) => f.t < Math.floor(duration));
  const plot = (spec: Parameters<typeof linePlot>[0], empty: string) => (spec.series.some((x) => x.points.length > 0) ? linePlot(spec) : `<p><b>${spec.title}</b>: ${empty}</p>`);
  const plots = [
    plot({ id: 'fps', title: 'Frames per second', xLabel: 'time (s)', yLabel: 'frames/s', series: [{ name: 'processed', color: PALETTE[0]!, points: windows(whole.map((f) => ({ t: f.t, v: 1 })), 1, (vs) => vs.length) }] }, 'the recording is shorter than a second'),
    plot({
      id: 'latency', title: 'Latency per frame', xLabel: 'time (s)', yLabel: 'ms',
      series: [
        { name: 'p50 per second', color: PALETTE[1]!, points: windows(ok.map((f) => ({ t: f.t, v: f.ms })), 1, (vs) => quantile(vs, 0.5)) },
        { name: 'p99 per second', color: PALETTE[4]!, dashed: true, points: windows(ok.map((f) => ({ t: f.t, v: f.ms })), 1, (vs) => quantile(vs, 0.99)) },
      ],
    }, 'no processed frame'),
    plot({
      id: 'extent', title: 'Certified box', xLabel: 'time (s)', yLabel: 'share', percent: true,
      series: [
        { name: 'mean extent', color: PALETTE[2]!, points: windows(ok.map((f) => ({ t: f.t, v: f.extent })), 1, mean) },
        { name: 'whole box', color: PALETTE[3]!, dashed: true, points: windows(ok.map((f) => ({ t: f.t, v: f.complete ? 1 : 0 })), 1, mean) },
      ],
    }, 'no processed frame'),
    plot({ id: 'dropped', title: 'Frames dropped (running total)', xLabel: 'time (s)', yLabel: 'frames', series: keyedSeries(diag, /^(frames dropped)$/) }, 'no diagnostics recorded'),
    plot({ id: 'load', title: 'CPU and GPU load', xLabel: 'time (s)', yLabel: '%', series: keyedSeries(system, /^(cpu|gpu) %$/) }, 'no machine readings recorded'),
    plot({ id: 'temp', title: 'Temperatures', xLabel: 'time (s)', yLabel: '°C', series: temps }, 'no temperature sensor was readable on this machine'),
    plot({ id: 'power', title: 'Power rails', xLabel: 'time (s)', yLabel: 'mW', series: power }, 'no power rail recorded (tegrastats on a Jetson reports them)'),
  ];
  return `<!doctype html><html><head><meta charset="utf-8"><title>luxcert field test — ${escape(source)}</title><style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;margin-bottom:16px}td{border:1px solid #ccc;padding:4px 8px;font-size:13px}
td:first-child{font-weight:bold}.plots{display:flex;flex-wrap:wrap;gap:12px}svg{font-size:11px}</style></head><body>
<h1>luxcert field test</h1><table>${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>
<div class="plots">${plots.join('')}</div></body></html>
`;
}
