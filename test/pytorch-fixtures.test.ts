import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { maxRelativeDifference, type Tensor } from '../src/core/tensor.ts';
import { evaluateGraph } from '../src/graph/evaluate.ts';
import { inspectModel } from '../src/onnx/inspect-model.ts';
import { openSession, runSession } from '../src/onnx/ort.ts';
import { readOnnxFile } from '../src/onnx/read.ts';
import { encodeOnnx } from '../src/onnx/write.ts';
import { luxcert } from './helpers/cli.ts';

const DIR = fileURLToPath(new URL('./fixtures/pytorch/', import.meta.url));

interface Fixture {
  name: string;
  opset: number;
  ops: string[];
  input: { name: string; dims: number[]; data: number[] };
  output: { name: string; dims: number[]; data: number[] };
  params: number;
}

/** Exporter shape arithmetic that import evaluates away (PyTorch's F.pad pads). */
const FOLDED_ON_IMPORT = new Set(['Constant', 'ConstantOfShape', 'Cast', 'Slice', 'Transpose']);

const fixtures: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(DIR + f, 'utf8')) as Fixture);

describe('models exported by PyTorch (torch.onnx.export, recorded outputs)', () => {
  it('cover opsets 11 to 17, BatchNorm folded and kept, residual additions', () => {
    const opsets = fixtures.map((f) => f.opset);
    assert.ok(Math.min(...opsets) <= 11 && Math.max(...opsets) >= 17);
    assert.ok(fixtures.some((f) => f.ops.includes('BatchNormalization')));
    assert.ok(fixtures.some((f) => f.ops.includes('Add') && f.ops.includes('GlobalAveragePool')));
  });

  for (const fx of fixtures) {
    describe(fx.name, () => {
      const path = `${DIR}${fx.name}.onnx`;
      const image: Tensor = { dims: fx.input.dims, data: Float32Array.from(fx.input.data) };
      it('luxcert evaluation matches PyTorch to 1e-5 relative', () => {
        const g = readOnnxFile(path);
        assert.ok(!g.nodes.some((n) => n.op === 'BatchNormalization'), 'BatchNorm folded on import');
        const out = evaluateGraph(g, { [fx.input.name]: image })[fx.output.name]!;
        assert.deepEqual(out.dims, fx.output.dims);
        const d = maxRelativeDifference(out.data, fx.output.data);
        assert.ok(d <= 1e-5, `relative difference ${d}`);
      });
      it("luxcert's re-export runs in onnxruntime and matches PyTorch to 1e-5", async () => {
        const session = await openSession(encodeOnnx(readOnnxFile(path)));
        const out = (await runSession(session, { [fx.input.name]: image }))[fx.output.name]!;
        const d = maxRelativeDifference(out.data, fx.output.data);
        assert.ok(d <= 1e-5, `relative difference ${d}`);
      });
      it('inspect reports its operators, shapes and parameter count', () => {
        const r = inspectModel(path);
        assert.equal(r.supported, true);
        assert.deepEqual(Object.keys(r.operators).sort(), fx.ops.filter((o) => !FOLDED_ON_IMPORT.has(o)));
        assert.equal(r.params, fx.params);
        assert.deepEqual(r.inputs, [{ name: 'image', shape: ['batch', ...fx.input.dims.slice(1)] }]);
        assert.deepEqual(r.outputs, [{ name: 'keypoints', shape: ['batch', ...fx.output.dims.slice(1)] }]);
        assert.ok(r.flops !== null && r.flops > 0);
      });
    });
  }

  it('`luxcert inspect --json` prints the same report', () => {
    const fx = fixtures.find((f) => f.name.startsWith('resnet'))!;
    const r = luxcert('inspect', '--model', `${DIR}${fx.name}.onnx`, '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { params: number; supported: boolean; operators: Record<string, number>; outputs: unknown };
    assert.equal(report.params, fx.params);
    assert.equal(report.supported, true);
    assert.equal(report.operators.Add, 2);
    assert.deepEqual(report.outputs, [{ name: 'keypoints', shape: ['batch', ...fx.output.dims.slice(1)] }]);
  });
});
