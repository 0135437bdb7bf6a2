import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { nchwcBlock } from '../../src/onnx/nchwc.ts';
import { GRADIENT_FIXTURES, gradientCases } from './pytorch-gradient-cases.ts';
import { gradientDigest, StepProbe, type GradientDigest } from './step-check.ts';

interface Fixture {
  torch: string;
  loss: number;
  wasserstein?: number;
  reluStability?: number;
  gradients: Record<string, GradientDigest>;
}

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-6);

// Both forms of the step: plain convolutions, and onnxruntime's blocked (NCHWc) ones where this CPU has them.
const block = await nchwcBlock();
const forms = block > 1 ? [1, block] : [1];

describe('whole-model gradients equal PyTorch\'s (bench/pytorch-gradients.py, recorded)', () => {
  for (const c of gradientCases()) for (const convBlock of forms) {
    it(`${c.name}${c.regularisers ? ' (both regularisers)' : ''}${convBlock > 1 ? `, NCHWc block ${convBlock}` : ''}: loss and every weight's gradient to 1e-4 relative`, async () => {
      const fx = JSON.parse(readFileSync(`${GRADIENT_FIXTURES}${c.name}.json`, 'utf8')) as Fixture;
      const probe = await StepProbe.open(c.model, c.meta, c.batch, c.regularisers, convBlock);
      const out = await probe.run();
      await probe.release();
      assert.ok(close(out.loss!.data[0] as number, fx.loss, 1e-5), `loss ${out.loss!.data[0]} vs PyTorch ${fx.loss}`);
      if (fx.wasserstein !== undefined) assert.ok(close(out.wasserstein!.data[0] as number, fx.wasserstein, 1e-5), `W ${out.wasserstein!.data[0]} vs ${fx.wasserstein}`);
      if (fx.reluStability !== undefined) assert.ok(close(out.relu_stability!.data[0] as number, fx.reluStability, 1e-5), `S ${out.relu_stability!.data[0]} vs ${fx.reluStability}`);
      const grads = StepProbe.gradients(out, probe.step.params);
      assert.deepEqual([...grads.keys()].sort(), Object.keys(fx.gradients).sort(), 'the same weights are trained');
      // A gradient that is zero in exact arithmetic (a bias before BatchNorm, a heatmap logit's bias under the
      // softmax) is rounding noise on both sides: both must be below 1e-4 of the model's largest gradient.
      const modelScale = Math.max(...Object.values(fx.gradients).flatMap((d) => d.values.map(Math.abs)));
      for (const [name, g] of grads) {
        const ours = gradientDigest(g.data);
        const theirs = fx.gradients[name]!;
        const scale = Math.max(...theirs.values.map(Math.abs));
        if (scale < 1e-4 * modelScale) {
          assert.ok(Math.max(...ours.values.map(Math.abs)) < 1e-4 * modelScale, `${name}: PyTorch's gradient is zero to rounding, luxcert's is not`);
          continue;
        }
        const worst = Math.max(...ours.values.map((v, i) => Math.abs(v - theirs.values[i]!)));
        assert.ok(worst <= 1e-4 * scale, `${name}: max difference ${worst.toExponential(2)} against max |g| ${scale.toExponential(2)}`);
        assert.ok(Math.abs(ours.dot - theirs.dot) <= 1e-4 * Math.max(Math.abs(theirs.dot), scale * Math.sqrt(theirs.size)), `${name}: directional derivative ${ours.dot} vs ${theirs.dot}`);
      }
    });
  }
});
