import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/random.ts';
import { OnnxEmitter } from '../../src/onnx/emit.ts';
import { blockedChannels, emitConv, nchwcBlock, type ConvWindow } from '../../src/onnx/nchwc.ts';
import { onnx } from '../../src/onnx/proto.ts';
import { buildTrainStep } from '../../src/train/train-step.ts';
import { buildZooModel } from '../../src/train/zoo.ts';
import { modelMeta } from '../../src/model/metadata.ts';

/** The CPU's vector extensions as Linux lists them (empty elsewhere). */
const flags = (() => {
  try {
    return new Set(readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1]!.trim().split(/\s+/) ?? []);
  } catch {
    return new Set<string>();
  }
})();

/** Where MLAS has NCHWc kernels and which block they use: AVX-512F 16, AVX2 8. */
const expected = process.arch === 'x64' ? (flags.has('avx512f') ? 16 : flags.has('avx2') ? 8 : undefined) : undefined;

describe("onnxruntime's blocked (NCHWc) convolutions in the training step", () => {
  it('are found with the block this CPU has', { skip: expected === undefined ? `no AVX2 or AVX-512F on this ${process.arch} CPU: the probe's answer is not known in advance` : false }, async () => {
    assert.equal(await nchwcBlock(), expected);
  });

  it('compute what the plain Conv computes: strides, dilation, uneven pads, 1×1 and 3×2 kernels, with and without bias, channel counts padded to whole blocks', async (t) => {
    const block = await nchwcBlock();
    if (block === 1) return t.skip('onnxruntime has no NCHWc kernels on this CPU');
    const rng = new Rng(3);
    const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() - 0.5);
    const windows: { win: ConvWindow; bias: boolean }[] = [
      { win: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], dilations: [1, 1] }, bias: true },
      { win: { kernel_shape: [3, 3], pads: [1, 0, 2, 1], strides: [2, 2], dilations: [1, 1] }, bias: false },
      { win: { kernel_shape: [3, 3], pads: [2, 2, 2, 2], strides: [1, 1], dilations: [2, 2] }, bias: true },
      { win: { kernel_shape: [1, 1], pads: [0, 0, 0, 0], strides: [2, 2], dilations: [1, 1] }, bias: true },
      { win: { kernel_shape: [3, 2], pads: [1, 0, 1, 1], strides: [1, 2], dilations: [1, 1] }, bias: false },
    ];
    // Whole blocks, both counts padded (24 → 12 with blocks of 16: inputs by 8, outputs by 4), and an NCHW input under a block (8 → 16).
    const channelPairs: [number, number][] = [[2 * block, block], [block + block / 2, (3 * block) / 4], [block / 2, block]];
    const cases = channelPairs.flatMap((channels) => windows.map((w) => ({ ...w, channels })));
    const e = new OnnxEmitter('conv_forms');
    const feeds: Record<string, ort.Tensor> = {};
    for (const [ci] of channelPairs) {
      feeds[`x${ci}`] = new ort.Tensor('float32', rand(2 * ci * 9 * 10), [2, ci, 9, 10]);
      e.input(`x${ci}`, [2, ci, 9, 10]);
    }
    cases.forEach(({ win, bias, channels: [ci, co] }, i) => {
      feeds[`w${i}`] = new ort.Tensor('float32', rand(co * ci * win.kernel_shape[0] * win.kernel_shape[1]), [co, ci, ...win.kernel_shape]);
      e.input(`w${i}`, [co, ci, ...win.kernel_shape]);
      if (bias) {
        feeds[`b${i}`] = new ort.Tensor('float32', rand(co), [co]);
        e.input(`b${i}`, [co]);
      }
      e.output(emitConv(e, `x${ci}`, `w${i}`, bias ? `b${i}` : undefined, win, [ci, co], 1), `plain${i}`);
      e.output(emitConv(e, `x${ci}`, `w${i}`, bias ? `b${i}` : undefined, win, [ci, co], block), `blocked${i}`);
    });
    const bytes = e.encode();
    const expectedBlocked = cases.filter((c) => blockedChannels(c.channels, block, c.win.kernel_shape)).length;
    assert.ok(expectedBlocked >= windows.length);
    assert.equal(onnx.ModelProto.decode(bytes).graph!.node!.filter((n) => n.domain === 'com.microsoft.nchwc' && n.opType === 'Conv').length, expectedBlocked);
    const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const out = await s.run(feeds);
    await s.release();
    cases.forEach(({ channels }, i) => {
      const p = out[`plain${i}`]!;
      const q = out[`blocked${i}`]!;
      assert.deepEqual(q.dims, p.dims, `case ${i} (${channels.join(' → ')})`);
      const worst = Math.max(...(p.data as Float32Array).map((v, j) => Math.abs(v - (q.data as Float32Array)[j]!)));
      assert.ok(worst <= 1e-5, `case ${i} (${channels.join(' → ')}): max difference ${worst}`);
    });
  });

  it('pad channel counts only where the measured rule says it pays', () => {
    assert.deepEqual(blockedChannels([32, 64], 16, [3, 3]), [32, 64]);
    assert.deepEqual(blockedChannels([16, 24], 16, [3, 3]), [16, 32]);
    assert.deepEqual(blockedChannels([24, 8], 16, [3, 3]), [32, 16]);
    assert.deepEqual(blockedChannels([8, 16], 16, [3, 3]), [8, 16], 'fewer inputs than a block are read as NCHW, not doubled');
    assert.deepEqual(blockedChannels([12, 24], 16, [3, 3]), [12, 32]);
    assert.equal(blockedChannels([20, 16], 16, [3, 3]), undefined, 'inputs nearly doubled');
    assert.equal(blockedChannels([32, 4], 16, [3, 3]), undefined, 'outputs quadrupled');
    assert.equal(blockedChannels([3, 16], 16, [3, 3]), undefined, 'three channels stay plain');
    assert.equal(blockedChannels([4, 32], 16, [1, 1]), undefined, 'a 1 × 1 kernel over fewer inputs than a block stays plain');
    assert.deepEqual(blockedChannels([16, 32], 16, [1, 1]), [16, 32]);
    assert.equal(blockedChannels([18, 32], 16, [3, 3]), undefined, 'ReorderInput takes multiples of 4');
    assert.equal(blockedChannels([32, 32], 1, [3, 3]), undefined, 'no blocked kernels');
  });

  it('are used for group-1 convolutions whose channel counts fill the blocks, forward and input gradient (by phases at stride 2), and nowhere else', () => {
    // cnn7: conv1 3 → 64 (its input is the image: plain), conv2 64 → 64, conv3 64 → 128 stride 2,
    // head.conv 128 → 32, head.logits 32 → 3 (plain).
    const g = buildZooModel({ arch: 'cnn7', head: 'heatmap', keypoints: ['a', 'b', 'c'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 1 });
    const nodes = onnx.ModelProto.decode(buildTrainStep({ model: g, meta: modelMeta(g, 'cnn7'), batch: 2, convBlock: 16 }).onnx).graph!.node!;
    const blocked = nodes.filter((n) => n.domain === 'com.microsoft.nchwc' && n.opType === 'Conv').map((n) => n.output![0]);
    // Forward: conv2, conv3, head.conv; input gradients: head.conv's and conv2's, and conv3's by its 2 × 2 phases.
    assert.equal(blocked.length, 9, blocked.join(', '));
    assert.equal(nodes.filter((n) => n.opType === 'ConvTranspose').length, 0);
    // Each value is reordered to blocks once: the phases share conv3's output gradient.
    assert.equal(nodes.filter((n) => n.opType === 'ReorderInput').length, 6);
    const plainSteps = onnx.ModelProto.decode(buildTrainStep({ model: g, meta: modelMeta(g, 'cnn7'), batch: 2 }).onnx).graph!.node!;
    assert.equal(plainSteps.filter((n) => n.domain === 'com.microsoft.nchwc').length, 0);
    assert.equal(plainSteps.filter((n) => n.opType === 'ConvTranspose').length, 1);
  });

  it('pad channel counts to whole blocks where that pays, and give every strided input gradient its phases on the CPU', () => {
    // tiny: conv1 3 → 8 (image: plain), conv2 8 → 16 at stride 2 (its NCHW input read by the blocked kernel),
    // conv3 16 → 24 at stride 2 (outputs padded to 32), no head convolution (regression).
    const g = buildZooModel({ arch: 'tiny', head: 'regression', keypoints: ['a', 'b'], skeleton: [], inputSize: 16, cropPadding: 1.25, seed: 1 });
    const nodes = (convBlock?: number) => onnx.ModelProto.decode(buildTrainStep({ model: g, meta: modelMeta(g, 'tiny'), batch: 2, ...(convBlock ? { convBlock } : {}) }).onnx).graph!.node!;
    const cpu = nodes(16);
    const convs = (domain: string) => cpu.filter((n) => n.opType === 'Conv' && (n.domain ?? '') === domain).length;
    assert.equal(cpu.filter((n) => n.opType === 'ConvTranspose').length, 0);
    // Blocked: conv2's and conv3's forward, conv3's 2 × 2 phases (24 → 16, inputs padded to 32) and conv2's (16 → 8, outputs padded to 16).
    assert.equal(convs('com.microsoft.nchwc'), 2 + 4 + 4);
    // conv2's forward alone reads its NCHW input as it is; every other blocked Conv reads a ReorderInput's blocks.
    const reordered = new Set(cpu.filter((n) => n.opType === 'ReorderInput').map((n) => n.output![0]));
    const direct = cpu.filter((n) => n.domain === 'com.microsoft.nchwc' && n.opType === 'Conv' && !reordered.has(n.input![0]!));
    assert.deepEqual(direct.map((n) => n.input![0]), ['conv1.relu']);
    // Plain: conv1's forward, one patch copy (im2col) per weight gradient.
    assert.equal(convs(''), 1 + 3);
    assert.equal(nodes().filter((n) => n.opType === 'ConvTranspose').length, 2);
  });
});
