import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBoundGraph } from '../../src/bounds/bound-graph.ts';
import { BoundComputer } from '../../src/bounds/bounds.ts';
import { FLOAT_SAFETY } from '../../src/certify/property.ts';
import { samplePoints } from '../../src/certify/samples.ts';
import { Rng } from '../../src/core/random.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/graph.ts';
import { perturbImage, type Box } from '../../src/model/perturbation.ts';
import { openSession, runSession } from '../../src/onnx/ort.ts';
import { decodeOnnx, rawToGraph } from '../../src/onnx/read.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { randomChainGraph, randomTensor } from '../helpers/random-graphs.ts';

const BOXES: Box[] = [
  { alphaLo: 0.9, alphaHi: 1.1, betaLo: -0.1, betaHi: 0.1 },
  { alphaLo: 0.7, alphaHi: 1.05, betaLo: -0.02, betaHi: 0.3 },
  { alphaLo: 0.995, alphaHi: 1.0, betaLo: 0, betaHi: 0.004 },
];
const slack = (v: number) => FLOAT_SAFETY.relative * Math.abs(v) + FLOAT_SAFETY.absolute;

/** Model outputs at sampled (α, β) of a box, run in onnxruntime: [points][outputs]. */
async function sampled(model: Graph, image: Float32Array, dims: number[], box: Box, rng: Rng): Promise<{ pts: [number, number][]; y: Float32Array }> {
  const session = await openSession(encodeOnnx(model));
  const pts = samplePoints(box, 4, 12, rng);
  const batch = new Float32Array(pts.length * image.length);
  pts.forEach(([a, b], i) => perturbImage(image, a, b, batch.subarray(i * image.length, (i + 1) * image.length)));
  const y = Object.values(await runSession(session, { [model.inputs[0]!.name]: { dims: [pts.length, ...dims], data: batch } }))[0]!.data;
  await session.release();
  return { pts, y };
}

describe('backward bounds through convolutions', () => {
  for (const seed of [1, 2, 3]) {
    for (const simplify of [true, false]) {
      for (const [lowerSlope, backward] of [['parallel', Infinity], ['adaptive', Infinity], ['adaptive', 1]] as const) {
        it(`random conv chain ${seed} (${simplify ? 'BatchNorm folded' : 'BatchNorm as a node'}), ${lowerSlope}, tail through ${backward} conv(s): sampled outputs stay inside the bounds and their linear forms`, async () => {
          const size = 11 + seed;
          const model = rawToGraph(decodeOnnx(encodeOnnx(randomChainGraph(seed, size)), 'chain.onnx'), { simplify });
          const rng = new Rng(seed * 31);
          const image = Float32Array.from({ length: 3 * size * size }, () => (rng.next() < 0.1 ? 1 : rng.next()));
          const bc = await BoundComputer.create(model, { boxes: 3, mode: 'linear', engine: 'onnxruntime', backward, lowerSlope });
          assert.ok(bc.graph.nodes.some((n) => n.op === 'Conv' && n.name.startsWith('b') && bc.graph.initializers.has(n.inputs[1]!) && n.inputs[1]!.startsWith('tail')), 'the tail crosses a convolution');
          const bounds = await bc.bounds(image, [3, size, size], BOXES);
          await bc.release();
          let checked = 0;
          for (const b of bounds) {
            const { pts, y } = await sampled(model, image, [3, size, size], b.box, rng);
            const m = b.lower.length;
            pts.forEach(([a, be], p) => {
              for (let i = 0; i < m; i++) {
                const v = y[p * m + i]!;
                checked++;
                assert.ok(v >= b.lower[i]! - slack(b.lower[i]!) && v <= b.upper[i]! + slack(b.upper[i]!), `output ${i} = ${v} outside [${b.lower[i]}, ${b.upper[i]}] at (${a}, ${be})`);
                const lin = b.la[i]! * a + b.lb[i]! * be + b.lc[i]!;
                const uin = b.ua[i]! * a + b.ub[i]! * be + b.uc[i]!;
                assert.ok(v >= lin - slack(lin) && v <= uin + slack(uin), `output ${i} = ${v} outside its linear bounds [${lin}, ${uin}] at (${a}, ${be})`);
              }
            });
          }
          assert.ok(checked > 500, `${checked} sampled outputs`);
        });
      }
    }
  }

  it('crosses as many convolutions as asked, all of them for Infinity', () => {
    const model = randomChainGraph(1, 12);
    const adjoints = (backward: number | false) => buildBoundGraph(model, { boxes: 2, mode: 'linear', backward }).nodes.filter((n) => (n.op === 'Conv' || n.op === 'ConvTranspose') && n.inputs[1]!.startsWith('tail')).length;
    const [none, dense, one, two, three, all] = ([false, 0, 1, 2, 3, Infinity] as const).map(adjoints);
    assert.ok(none === 0 && dense === 0 && 0 < one! && one! < two! && two! < three! && three === all, `adjoint Convs: ${[none, dense, one, two, three, all]}`);
  });

  it('is tighter than the dense tail on the conv chains (mean width over outputs and boxes)', async () => {
    for (const seed of [1, 2, 3]) {
      const size = 12;
      const model = randomChainGraph(seed, size);
      const rng = new Rng(seed);
      const image = Float32Array.from({ length: 3 * size * size }, () => rng.next());
      const width = async (backward: number) => {
        const bc = await BoundComputer.create(model, { boxes: 3, mode: 'linear', engine: 'onnxruntime', backward });
        const r = await bc.bounds(image, [3, size, size], BOXES);
        await bc.release();
        return r.reduce((s, b) => s + b.upper.reduce((t, u, i) => t + u - b.lower[i]!, 0), 0);
      };
      const [dense, deep] = [await width(0), await width(Infinity)];
      assert.ok(deep < dense, `seed ${seed}: deep ${deep} vs dense tail ${dense}`);
    }
  });

  /** An affine model (no ReLU): its output is exactly linear in (α, β) while no pixel clips. */
  function affineCases(): { name: string; model: Graph; size: number; adjoint: 'Conv' | 'ConvTranspose' }[] {
    const rng = new Rng(9);
    const b = new GraphBuilder('k1s2');
    let x = b.input('image', ['batch', 3, 7, 7]);
    // 1×1 stride 2 on an odd input: the adjoint as a Conv would need a negative pad (ConvTranspose path).
    x = b.op('Conv', [x, b.weight('w', randomTensor(rng, [4, 3, 1, 1], 0.5)), b.weight('c', randomTensor(rng, [4], 0.1))], { strides: [2, 2] });
    x = b.op('Flatten', [x], { axis: 1 });
    x = b.op('Gemm', [x, b.weight('g', randomTensor(rng, [64, 4], 0.3))]);
    return [
      { name: 'conv chain (SAME stride 2 with groups, dilation, an unread row, BatchNorm)', model: rawToGraph(decodeOnnx(encodeOnnx(randomChainGraph(5, 13, false)), 'a.onnx'), { simplify: false }), size: 13, adjoint: 'Conv' },
      // Sides divisible by the strides: the strided adjoints go by phases (one Conv per phase).
      { name: 'conv chain on a 12 × 12 image (strided adjoints by phases)', model: rawToGraph(decodeOnnx(encodeOnnx(randomChainGraph(6, 12, false)), 'b.onnx'), { simplify: false }), size: 12, adjoint: 'Conv' },
      { name: '1×1 stride-2 conv on an odd input', model: b.build([b.op('Reshape', [x], { shape: [0, 2, 2] })]), size: 7, adjoint: 'ConvTranspose' },
    ];
  }

  for (const c of affineCases()) {
    it(`the adjoint is exact: ${c.name}`, async () => {
      const rng = new Rng(3);
      const image = Float32Array.from({ length: 3 * c.size * c.size }, () => 0.2 + 0.6 * rng.next());
      const box = BOXES[0]!; // α·x + β stays inside [0, 1]: nothing clips
      const bc = await BoundComputer.create(c.model, { boxes: 1, mode: 'linear', engine: 'onnxruntime', backward: Infinity });
      const adjoints = bc.graph.nodes.filter((n) => (n.op === 'Conv' || n.op === 'ConvTranspose') && n.inputs[1]!.startsWith('tail'));
      assert.ok(adjoints.length > 0 && adjoints.every((n) => n.op === c.adjoint), `adjoints computed by ${c.adjoint}`);
      if (c.adjoint === 'Conv') {
        // A 1 × 1 kernel in a tail Conv comes only from a phase of a strided adjoint (the chains have no 1 × 1 Conv).
        const phased = adjoints.some((n) => String(n.attrs.kernel_shape) === '1,1');
        assert.equal(phased, c.size % 2 === 0, c.size % 2 === 0 ? 'strided adjoints by phases' : 'no phases where the side is odd');
      }
      const [b] = await bc.bounds(image, [3, c.size, c.size], [box]);
      await bc.release();
      const { pts, y } = await sampled(c.model, image, [3, c.size, c.size], box, rng);
      const m = b!.lower.length;
      pts.forEach(([a, be], p) => {
        for (let i = 0; i < m; i++) {
          const v = y[p * m + i]!;
          for (const [k, aa, bb, cc] of [['lower', b!.la[i]!, b!.lb[i]!, b!.lc[i]!], ['upper', b!.ua[i]!, b!.ub[i]!, b!.uc[i]!]] as const) {
            const f = aa * a + bb * be + cc;
            assert.ok(Math.abs(f - v) <= 1e-4 * (1 + Math.abs(v)), `${k} linear bound of output ${i} is ${f}, the model gives ${v} at (${a}, ${be})`);
          }
        }
      });
    });
  }
});
