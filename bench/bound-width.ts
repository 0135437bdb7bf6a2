// Where the width of a bound pass comes from: for every value of a trained model (the camera's clip,
// each layer), the mean width of its certified bounds against the range sampled perturbations reach,
// and, before each ReLU, how many neurons the bounds leave unstable (l < 0 < u) against how many
// sampled perturbations show to be (they take both signs) — on the whole box and on sub-boxes
// around the identity, for IBP and the linear pass with either ReLU lower slope.
// Usage: npm run bench:bound-width [-- --model luxcert-demo/pruned.onnx --data luxcert-demo/data/test --images 20]
import { parseArgs } from 'node:util';
import { loadTrainedModel } from './trained-model.ts';
import { ValueBounds } from '../src/bounds/value-bounds.ts';
import type { BoundMode, LowerSlope } from '../src/bounds/emitter.ts';
import { samplePoints } from '../src/certify/samples.ts';
import { Rng } from '../src/core/random.ts';
import { validateGraph } from '../src/graph/validate.ts';
import { boxFromFlags, perturbImage, type Box } from '../src/model/perturbation.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { encodeOnnx } from '../src/onnx/write.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'luxcert-demo/pruned.onnx' }, data: { type: 'string', default: 'luxcert-demo/data/test' }, images: { type: 'string', default: '20' }, brightness: { type: 'string', default: '0.1' }, contrast: { type: 'string', default: '0.1' }, samples: { type: 'string', default: '15' } } });
const { graph, meta, n, image, dims } = await loadTrainedModel(values.model, values.data, Number(values.images));
const whole = boxFromFlags(Number(values.brightness), Number(values.contrast));
/** The sub-box of the maximum box scaled by s around the identity (α = 1, β = 0). */
const scaled = (s: number): Box => ({ alphaLo: 1 - s * (1 - whole.alphaLo), alphaHi: 1 + s * (whole.alphaHi - 1), betaLo: s * whole.betaLo, betaHi: s * whole.betaHi });
const scales = [1, 0.25, 1 / 16];

// Every node output, in order; which ones feed a ReLU.
const shapes = validateGraph(graph);
const valuesInOrder = graph.nodes.map((nd) => ({ name: nd.outputs[0]!, op: nd.op }));
const reluInputs = new Set(graph.nodes.filter((nd) => nd.op === 'Relu').map((nd) => nd.inputs[0]!));
const probes = valuesInOrder.map((v) => v.name);

// Sampled ranges: the model with every value as an output, run on sampled perturbations.
const exposed = { ...graph, outputs: [...graph.outputs, ...probes.filter((p) => !graph.outputs.some((o) => o.name === p)).map((p) => ({ name: p, shape: shapes.get(p)! }))] };
const session = await openSession(encodeOnnx(exposed));
async function sampled(x: Float32Array, box: Box): Promise<Map<string, { min: Float32Array; max: Float32Array }>> {
  const pts = samplePoints(box, Math.round(Math.sqrt(Number(values.samples))), 0, new Rng(1));
  const out = new Map<string, { min: Float32Array; max: Float32Array }>();
  for (const [a, b] of pts) {
    const res = await runSession(session, { [graph.inputs[0]!.name]: { dims: [1, ...dims], data: perturbImage(x, a, b) } });
    for (const p of probes) {
      const v = res[p]!.data;
      const cur = out.get(p);
      if (!cur) out.set(p, { min: Float32Array.from(v), max: Float32Array.from(v) });
      else for (let i = 0; i < v.length; i++) {
        cur.min[i] = Math.min(cur.min[i]!, v[i]!);
        cur.max[i] = Math.max(cur.max[i]!, v[i]!);
      }
    }
  }
  return out;
}

const configs: { label: string; mode: BoundMode; lowerSlope?: LowerSlope }[] = [
  { label: 'ibp', mode: 'ibp' },
  { label: 'linear, parallel', mode: 'linear', lowerSlope: 'parallel' },
  { label: 'linear, adaptive', mode: 'linear', lowerSlope: 'adaptive' },
];
console.log(`bench:bound-width — ${values.model} (${meta.arch ?? '?'}, ${meta.head}), ${n} images, maximum box α [${whole.alphaLo}, ${whole.alphaHi}] × β [${whole.betaLo}, ${whole.betaHi}], sub-boxes scaled ${scales.map((s) => `×${s}`).join(', ')} around the identity; sampled ranges from ${Number(values.samples) + 5} points per box`);
for (const c of configs) {
  // The forward pass: what every inner value's bound is (the backward tail refines the output only).
  const vb = await ValueBounds.create(graph, probes, scales.length, c.mode, c.lowerSlope);
  // Sums over images: bound width, sampled width, unstable by bounds, unstable by samples.
  const acc = probes.map(() => scales.map(() => ({ bw: 0, sw: 0, ub: 0, us: 0, elems: 0 })));
  for (let i = 0; i < n; i++) {
    const x = image(i);
    const boxes = scales.map(scaled);
    const bounds = await vb.run(x, dims, boxes);
    for (const [k, box] of boxes.entries()) {
      const s = await sampled(x, box);
      probes.forEach((p, j) => {
        const b = bounds.get(p)!;
        const m = b.l.length / scales.length;
        const { min, max } = s.get(p)!;
        const a = acc[j]![k]!;
        for (let e = 0; e < m; e++) {
          const l = b.l[k * m + e]!;
          const u = b.u[k * m + e]!;
          a.bw += u - l;
          a.sw += max[e]! - min[e]!;
          if (l < 0 && u > 0) a.ub++;
          if (min[e]! < 0 && max[e]! > 0) a.us++;
        }
        a.elems += m;
      });
    }
  }
  await vb.release();
  console.log(`\n${c.label}: mean bound width / mean sampled width per value (×), and before each ReLU the share of neurons left unstable by the bounds (sampled: both signs seen)`);
  console.log(`| value | op | ${scales.map((s) => `×${s} width`).join(' | ')} | ${scales.map((s) => `×${s} unstable`).join(' | ')} |`);
  console.log(`|---|---|${scales.map(() => '---|').join('')}${scales.map(() => '---|').join('')}`);
  valuesInOrder.forEach((v, j) => {
    const widths = acc[j]!.map((a) => (a.sw > 0 ? `${(a.bw / a.sw).toPrecision(3)}` : '—'));
    const unstable = acc[j]!.map((a) => (reluInputs.has(v.name) ? `${((100 * a.ub) / a.elems).toFixed(1)} % (${((100 * a.us) / a.elems).toFixed(1)} %)` : ''));
    console.log(`| ${v.name} | ${v.op} | ${widths.join(' | ')} | ${unstable.join(' | ')} |`);
  });
}
await session.release();
