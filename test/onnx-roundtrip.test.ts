import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../src/core/random.ts';
import { maxRelativeDifference, type Tensor } from '../src/core/tensor.ts';
import { evaluateGraph } from '../src/graph/evaluate.ts';
import type { Graph } from '../src/graph/graph.ts';
import { SUPPORTED_ONNX_OPS } from '../src/graph/ops/registry.ts';
import { MAX_ORT_THREADS, openSession, runSession } from '../src/onnx/ort.ts';
import { decodeOnnx, rawToGraph } from '../src/onnx/read.ts';
import { encodeOnnx } from '../src/onnx/write.ts';
import { attr, floatTensor, intTensor, onnxModel } from './helpers/onnx-model.ts';
import { randomConvGraph, randomTensor, randomVariantGraph } from './helpers/random-graphs.ts';

function feedsFor(g: Graph, seed: number, batch = 3): Record<string, Tensor> {
  const rng = new Rng(seed);
  return Object.fromEntries(g.inputs.map((i) => [i.name, randomTensor(rng, i.shape.map((d) => (typeof d === 'number' ? d : batch)))]));
}

async function compareWithOrt(bytes: Uint8Array, g: Graph, feeds: Record<string, Tensor>): Promise<number> {
  const ours = evaluateGraph(g, feeds);
  const theirs = await runSession(await openSession(bytes), feeds);
  let worst = 0;
  for (const [k, t] of Object.entries(ours)) {
    assert.deepEqual(t.dims, theirs[k]!.dims, `shape of ${k}`);
    worst = Math.max(worst, maxRelativeDifference(t.data, theirs[k]!.data));
  }
  return worst;
}

const reimport = (bytes: Uint8Array, simplify = true) => rawToGraph(decodeOnnx(bytes, 'memory.onnx'), { simplify });

describe('random graphs: IR evaluation vs onnxruntime', () => {
  const graphs = [1, 2, 3].flatMap((s) => [() => randomConvGraph(s, 10 + s), () => randomVariantGraph(s)]);
  const seen = new Set<string>();
  for (const [i, make] of graphs.entries()) {
    it(`graph ${i} agrees with onnxruntime to 1e-5 relative, before and after import simplification`, async () => {
      const g = make();
      for (const n of g.nodes) seen.add(n.op);
      const bytes = encodeOnnx(g);
      const feeds = feedsFor(g, 100 + i);
      const raw = reimport(bytes, false);
      const simplified = reimport(bytes);
      for (const graph of [g, raw, simplified]) assert.ok((await compareWithOrt(bytes, graph, feeds)) <= 1e-5);
      assert.ok(!simplified.nodes.some((n) => n.op === 'Identity'), 'Identity removed');
    });
  }
  it('the random graphs cover every supported IR operator', () => {
    const missing = SUPPORTED_ONNX_OPS.filter((op) => op !== 'Constant' && !seen.has(op));
    assert.deepEqual(missing, []);
  });
});

describe('import → export → import', () => {
  for (const make of [() => randomConvGraph(7), () => randomVariantGraph(7)]) {
    it('is identical, as a graph and as bytes', () => {
      const bytes = encodeOnnx(make());
      const once = reimport(bytes);
      const onceBytes = encodeOnnx(once);
      const twice = reimport(onceBytes);
      assert.deepEqual(twice, once);
      assert.deepEqual(Buffer.from(encodeOnnx(twice)), Buffer.from(onceBytes));
    });
  }
  it('keeps metadata_props', () => {
    const g = randomConvGraph(3);
    assert.deepEqual(reimport(encodeOnnx(g)).metadata, { luxcert_test: 'random' });
  });
});

describe('older opsets and hand-written files', () => {
  it('reads Constant nodes, float_data/int64_data, opset-9 Pad and opset-11 Clip inputs like onnxruntime', async () => {
    const cases = [
      onnxModel({
        opset: 9,
        inputs: [['x', [1, 2, 3, 3]]],
        outputs: [['y', [1, 2, 5, 4]]],
        nodes: [
          { opType: 'Constant', output: ['c'], attribute: [{ name: 'value', type: 4, t: floatTensor('', [2, 1, 1], [0.5, -1]) }] },
          { opType: 'Add', input: ['x', 'c'], output: ['a'], name: 'add' },
          { opType: 'Pad', input: ['a'], output: ['p'], name: 'pad', attribute: [attr('pads', [0, 0, 1, 1, 0, 0, 1, 0]), attr('value', 2, true)] },
          { opType: 'Clip', input: ['p'], output: ['y'], name: 'clip', attribute: [attr('min', -0.5, true), attr('max', 1.5, true)] },
        ],
      }),
      onnxModel({
        opset: 11,
        inputs: [['x', ['n', 6]]],
        outputs: [['y', ['n', 3, 2]]],
        initializers: [floatTensor('lo', [], [-0.2]), intTensor('shape', [3], [0, 3, 2])],
        nodes: [
          { opType: 'Constant', output: ['hi'], attribute: [attr('value_float', 0.7, true)] },
          { opType: 'Clip', input: ['x', 'lo', 'hi'], output: ['c'], name: 'clip' },
          { opType: 'Identity', input: ['c'], output: ['i'], name: 'id' },
          { opType: 'Reshape', input: ['i', 'shape'], output: ['y'], name: 'reshape' },
        ],
      }),
    ];
    for (const bytes of cases) {
      const g = reimport(bytes);
      assert.ok((await compareWithOrt(bytes, g, feedsFor(g, 9, 2))) <= 1e-6);
      assert.ok((await compareWithOrt(encodeOnnx(g), g, feedsFor(g, 9, 2))) <= 1e-6, 're-exported at opset 17');
    }
  });
});

describe('onnxruntime sessions', () => {
  it('refuse a thread count outside 1..MAX_ORT_THREADS before onnxruntime starts a pool', async () => {
    const model = encodeOnnx(randomConvGraph(1));
    for (const threads of [0, 1.5, MAX_ORT_THREADS + 1, 1_000_000]) {
      await assert.rejects(openSession(model, { intraOpNumThreads: threads }), new RegExp(`onnxruntime threads must be an integer in 1\\.\\.${MAX_ORT_THREADS}, got ${threads}`));
    }
    await (await openSession(model, { intraOpNumThreads: 2 })).release();
  });
});
