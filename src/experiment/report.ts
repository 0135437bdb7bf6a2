import type { Box } from '../model/perturbation.ts';
import { RELU_STABILITY_MARGIN } from '../train/regularisers.ts';
import { acceptance, aggregateRuns, denseRow, VERDICT_LABEL, type Criterion, type Row, type Stat } from './aggregate.ts';
import type { ExperimentResult } from './run-experiment.ts';
import { linePlot, type Series } from './svg-plot.ts';

/** A table of the report, rendered as Markdown or HTML. */
interface Table {
  title: string;
  note?: string;
  header: string[];
  rows: string[][];
}

const COLORS: Record<string, string> = { usn: '#d62728', random: '#7f7f7f', l1: '#1f77b4', slimming: '#2ca02c', nrs: '#9467bd' };

const pm = (s: Stat, f: (v: number) => string) => (s.n > 1 ? `${f(s.mean)} ± ${f(s.std)}` : f(s.mean));
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const boxText = (b: Box) => `β ±${+((b.betaHi - b.betaLo) / 2).toFixed(4)}, α ±${+((b.alphaHi - b.alphaLo) / 2).toFixed(4)}`;
const kb = (v: number) => (v / 1024).toFixed(1);
const compactNum = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));

function rowCells(x: Row, boxes: number): string[] {
  if (x.skipped) return [x.label, String(x.sparsity), '—', 'skipped¹', ...new Array<string>(2 * boxes + 7).fill('')];
  const last = boxes - 1;
  return [
    x.label,
    x.kind === 'dense' ? '0' : String(x.sparsity),
    x.kind === 'dense' ? '—' : String(x.seeds.length),
    pm(x.pck2, (v) => v.toFixed(3)),
    pm(x.meanError, (v) => v.toFixed(2)),
    ...x.coverage.map((c) => pm(c, pct)),
    pm(x.falsified[last]!, pct),
    ...x.certMs.map((c) => pm(c, (v) => v.toFixed(0))),
    compactNum(x.params.mean),
    compactNum(x.flops.mean),
    kb(x.onnxBytes.mean),
    x.inferenceMs.mean.toFixed(3),
    `${x.soundness.violations}/${x.soundness.samples}`,
  ];
}

function header(r: ExperimentResult): string[] {
  const boxes = r.config.assess.boxes;
  return ['model', 'sparsity', 'seeds', 'PCK@2px', 'err px', ...boxes.map((b) => `certified (${boxText(b)})`), 'falsified (largest box)', ...boxes.map((b) => `cert ms/img (${boxText(b)})`), 'params', 'FLOPs', 'ONNX KiB', 'infer ms', 'violations/samples'];
}

/** The report's tables: headline, ablations, the whole sweep. */
function tables(r: ExperimentResult, rows: Row[]): Table[] {
  const n = r.config.assess.boxes.length;
  const dense = denseRow(r);
  const cells = (list: Row[]) => list.map((x) => rowCells(x, n));
  const skipped = [...new Set(rows.filter((x) => x.skipped).map((x) => x.skipped!))];
  const footnote = skipped.length ? `¹ ${skipped.join('; ')}` : undefined;
  const sweep = rows.filter((x) => x.kind === 'sweep');
  const rs = r.config.regulariser.includes('rs');
  const head = sweep.filter((x) => x.sparsity === r.config.headline);
  const ablation = rows.filter((x) => x.kind === 'ablation' || (x.kind === 'sweep' && x.method === 'usn' && x.sparsity === r.config.headline));
  const out: Table[] = [{ title: `Headline: ${100 * r.config.headline}% channel sparsity`, note: [`mean ± sample std over seeds; +W: fine-tuned with the Wasserstein regulariser${rs ? '; +RS: and the ReLU-stability regulariser' : ''}`, footnote].filter(Boolean).join('. '), header: header(r), rows: cells([dense, ...head]) }];
  if (r.config.ablations.length > 0) out.push({ title: 'Ablation: USN terms', note: 'usn[terms]: USN penalising only those terms (bias, smoothness: sampled; bounds: certified pre-activation width); usn: all three', header: header(r), rows: cells(ablation) });
  out.push({ title: 'Sweep: every method, sparsity and regulariser setting', ...(footnote ? { note: footnote } : {}), header: header(r), rows: cells([dense, ...[...sweep].sort((a, b) => a.sparsity - b.sparsity || a.label.localeCompare(b.label))]) });
  return out;
}

/** The three plots of the sweep against sparsity as standalone SVG files: coverage (largest box), certification time, accuracy. */
export function plotFiles(r: ExperimentResult): Record<'coverage' | 'time' | 'accuracy', string> {
  const [coverage, time, accuracy] = plots(r, aggregateRuns(r)) as [string, string, string];
  return { coverage, time, accuracy };
}

function plots(r: ExperimentResult, rows: Row[]): string[] {
  const last = r.config.assess.boxes.length - 1;
  const dense = denseRow(r);
  const sweep = rows.filter((x) => x.kind === 'sweep' && !x.skipped);
  const series = (f: (x: Row) => Stat): Series[] =>
    [...new Set(sweep.map((x) => x.label))].map((label) => {
      const list = sweep.filter((x) => x.label === label);
      const { method, lambda, reluStability } = list[0]!;
      return { name: label, color: COLORS[method] ?? '#000', dashed: lambda === 0 && reluStability === 0, bold: reluStability > 0, points: list.map((x) => ({ x: x.sparsity, y: f(x).mean, err: f(x).std })) };
    });
  const box = boxText(r.config.assess.boxes[last]!);
  return [
    linePlot({ id: 'coverage', title: `Certified coverage vs sparsity (${box})`, xLabel: 'channel sparsity', yLabel: 'certified (image, keypoint) pairs', series: series((x) => x.coverage[last]!), reference: { y: dense.coverage[last]!.mean, label: 'dense' }, percent: true }),
    linePlot({ id: 'time', title: `Certification time vs sparsity (${box})`, xLabel: 'channel sparsity', yLabel: 'ms per image (mean)', series: series((x) => x.certMs[last]!), reference: { y: dense.certMs[last]!.mean, label: 'dense' } }),
    linePlot({ id: 'accuracy', title: 'Clean accuracy vs sparsity', xLabel: 'channel sparsity', yLabel: 'PCK@2px (held-out)', series: series((x) => x.pck2), reference: { y: dense.pck2.mean, label: 'dense' } }),
  ];
}

function setup(r: ExperimentResult): string[] {
  const c = r.config;
  return [
    `command: \`${r.command}\``,
    `luxcert ${r.version}, training engine ${r.backend}, ${r.machine}, ${r.date}`,
    `data: ${r.data.train} (${r.data.trainObjects} objects, fine-tuning and USN/NRS samples), ${r.data.test} (${r.data.testObjects} held-out objects; the first ${Math.min(c.assess.certify, r.data.testObjects)} certified)`,
    `dense model: ${r.dense.model}`,
    `pruning: ${c.rounds} round(s) × ${c.epochs} fine-tuning epoch(s), ${c.scope} scope, USN/NRS measured under ${boxText(r.pruneBox)} on ${c.usnImages} images (${c.usnPerturbations} perturbations each, bounds on ${c.boundGrid}×${c.boundGrid} sub-boxes); regulariser λ = ${c.wasserstein}${c.regulariser.includes('rs') ? `, ReLU stability μ = ${c.reluStability} (margin ${RELU_STABILITY_MARGIN})` : ''}; seeds ${c.seeds.join(', ')} at sparsity ${c.headline}, seed ${c.seeds[0]} elsewhere`,
    `certification: τ = ${c.assess.tolerance} px around the ground truth, branch-and-bound budget of ${c.assess.budget.boxes} sub-boxes per image and box (${c.assess.budget.ms} ms safety limit), ${c.assess.check} sampled perturbations per certified claim run in onnxruntime`,
  ];
}

function criteria(list: Criterion[]): string[] {
  return list.map((c) => `${VERDICT_LABEL[c.verdict]} — ${c.text}: ${c.detail}`);
}

/** The report as Markdown (the plots are in the HTML report). */
export function markdownReport(r: ExperimentResult): string {
  const rows = aggregateRuns(r);
  const md = (t: Table) => [`## ${t.title}`, '', ...(t.note ? [t.note, ''] : []), `| ${t.header.join(' | ')} |`, `|${t.header.map(() => '---').join('|')}|`, ...t.rows.map((row) => `| ${row.join(' | ')} |`), ''].join('\n');
  return [
    '# luxcert experiment',
    '',
    ...setup(r).map((l) => `- ${l}`),
    '',
    `## Acceptance at ${100 * r.config.headline}% sparsity (USN with the regulariser, means over seeds, largest box)`,
    '',
    ...criteria(acceptance(r, rows)).map((l) => `- ${l}`),
    '',
    ...tables(r, rows).map(md),
    'Plots: report.html (certified coverage, certification time and accuracy against sparsity).',
    '',
  ].join('\n');
}

const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

/** The report as one self-contained HTML page (inline SVG plots, no scripts or external resources). */
export function htmlReport(r: ExperimentResult): string {
  const rows = aggregateRuns(r);
  const html = (t: Table) =>
    `<h2>${esc(t.title)}</h2>${t.note ? `<p class="note">${esc(t.note)}</p>` : ''}<table><thead><tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${t.rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const crit = acceptance(r, rows).map((c) => `<li class="${c.verdict}">${VERDICT_LABEL[c.verdict]} — ${esc(c.text)}: ${esc(c.detail)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>luxcert experiment</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:12px;margin-bottom:8px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}td{white-space:nowrap}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:12px}.note{color:#555;font-size:12px}
li.pass{color:#11772d}li.fail{color:#b00020}li.unmeasured{color:#777}
</style></head><body>
<h1>luxcert experiment</h1>
<ul>${setup(r).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<h2>Acceptance at ${100 * r.config.headline}% sparsity (USN with the regulariser, means over seeds, largest box)</h2><ul>${crit}</ul>
<h2>Against sparsity</h2><p class="note">solid: fine-tuned with the Wasserstein regulariser${r.config.regulariser.includes('rs') ? '; thick: and the ReLU-stability regulariser' : ''}; dashed: without; bars: ± std over seeds; dotted: the dense model</p>
<div class="plots">${plots(r, rows).join('')}</div>
${tables(r, rows).map(html).join('\n')}
</body></html>
`;
}
