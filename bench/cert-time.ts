// Certification time per image of several models, measured in interleaved rounds so that a shared
// machine's drift (other jobs, clock changes) hits every model alike; the figure per model is the
// median over rounds of its mean ms per image, and its ratio to the first model's.
// Usage: npm run bench:cert-time -- --models dense.onnx,pruned.onnx[,…] [--data luxcert-demo/data/test]
//          [--images 100] [--rounds 3] [--brightness 0.1 --contrast 0.1 --tolerance 2] [--budget-boxes 2048] [--json]
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { BoundComputer } from '../src/bounds/bounds.ts';
import { certifySet } from '../src/certify/certify-set.ts';
import { ModelRunner } from '../src/certify/model-runner.ts';
import { quantile } from '../src/core/quantile.ts';
import { loadDataset } from '../src/data/dataset.ts';
import { modelMeta } from '../src/model/metadata.ts';
import { boxFromFlags } from '../src/model/perturbation.ts';
import { readOnnxFile } from '../src/onnx/read.ts';
import { encodeOnnx } from '../src/onnx/write.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'luxcert-demo/model.onnx,luxcert-demo/pruned.onnx' }, data: { type: 'string', default: 'luxcert-demo/data/test' },
    images: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' }, brightness: { type: 'string', default: '0.1' }, contrast: { type: 'string', default: '0.1' },
    tolerance: { type: 'string', default: '2' }, 'budget-boxes': { type: 'string', default: '2048' }, json: { type: 'boolean', default: false },
  },
});
const paths = values.models.split(',').map((p) => p.trim()).filter(Boolean);
const missing = paths.find((p) => !existsSync(p));
if (missing !== undefined || paths.length === 0) {
  console.error(`${missing ?? '--models'}: not found (run \`npx luxcert demo\` first, or pass --models a.onnx,b.onnx)`);
  process.exit(1);
}
const set = await loadDataset(values.data);
const box = boxFromFlags(Number(values.brightness), Number(values.contrast));
const rounds = Number(values.rounds);
const cfg = { boxes: [box], tolerances: [Number(values.tolerance)], reference: 'truth' as const, budget: { boxes: Number(values['budget-boxes']), ms: 20000 }, seed: 1, check: 0, limit: Number(values.images) };
const models = paths.map((path) => {
  const graph = readOnnxFile(path);
  return { path, graph, bytes: encodeOnnx(graph), meta: modelMeta(graph, path), ms: [] as number[], subBoxes: 0, coverage: 0 };
});

if (!values.json) console.log(`bench:cert-time — ${models.length} models, ${cfg.limit} images of ${values.data}, box α [${box.alphaLo}, ${box.alphaHi}] × β [${box.betaLo}, ${box.betaHi}], τ = ${cfg.tolerances[0]} px, budget ${cfg.budget.boxes} sub-boxes, ${rounds} interleaved rounds, Node ${process.version}, onnxruntime CPU`);
for (let r = 1; r <= rounds; r++) {
  for (const m of models) {
    // Sessions are opened per measurement, so idle thread pools of the other models never compete.
    const bounds = await BoundComputer.create(m.graph, { boxes: 16, mode: 'linear', engine: 'onnxruntime' });
    const runner = await ModelRunner.open(m.bytes, m.meta);
    try {
      const s = (await certifySet(bounds, runner, m.meta, set, cfg)).settings[0]!;
      m.ms.push(s.msPerImage.mean);
      m.subBoxes = s.boxesBoundedPerImage;
      m.coverage = s.coverage;
    } finally {
      await bounds.release();
      await runner.release();
    }
  }
  process.stderr.write(`round ${r}/${rounds} done\n`);
}
const rows = models.map((m) => ({ model: m.path, msPerImage: quantile(m.ms, 0.5), rounds: m.ms, subBoxesPerImage: m.subBoxes, coverage: m.coverage }));
const base = rows[0]!.msPerImage;
if (values.json) console.log(JSON.stringify({ box, tolerance: cfg.tolerances[0], images: cfg.limit, budgetBoxes: cfg.budget.boxes, rounds, models: rows.map((x) => ({ ...x, ratio: x.msPerImage / base })) }, null, 2));
else {
  console.log(`\n${'model'.padEnd(44)} ${'ms/image'.padStart(9)} ${'× first'.padStart(8)} ${'sub-boxes'.padStart(10)} ${'certified'.padStart(10)}   rounds (ms)`);
  for (const x of rows) console.log(`${basename(x.model).padEnd(44)} ${x.msPerImage.toFixed(1).padStart(9)} ${(x.msPerImage / base).toFixed(2).padStart(8)} ${x.subBoxesPerImage.toFixed(0).padStart(10)} ${(100 * x.coverage).toFixed(1).padStart(9)}%   ${x.rounds.map((v) => v.toFixed(1)).join(' ')}`);
}
