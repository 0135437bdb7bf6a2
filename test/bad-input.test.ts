import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LuxcertError } from '../src/core/errors.ts';
import { inspectModel } from '../src/onnx/inspect-model.ts';
import { readOnnxFile } from '../src/onnx/read.ts';
import { luxcert } from './helpers/cli.ts';
import { tmpDir } from './helpers/tmp.ts';
import { attr, floatTensor, onnxModel } from './helpers/onnx-model.ts';

const dir = tmpDir('bad');
const fixture = fileURLToPath(new URL('./fixtures/pytorch/resnet_op11.onnx', import.meta.url));

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const conv = (weightDims: number[], withWeight = true) =>
  onnxModel({
    opset: 13,
    inputs: [['x', [1, 3, 8, 8]]],
    outputs: [['y', []]],
    initializers: withWeight ? [floatTensor('w', weightDims, new Array(weightDims.reduce((a, b) => a * b, 1)).fill(0.1))] : [],
    nodes: [{ opType: 'Conv', name: 'conv1', input: ['x', 'w'], output: ['y'], attribute: [attr('kernel_shape', weightDims.slice(2))] }],
  });

const cases: { what: string; path: () => string; message: RegExp }[] = [
  { what: 'a truncated ONNX file', path: () => file('truncated.onnx', readFileSync(fixture).subarray(0, 9000)), message: /truncated/ },
  { what: 'a file that is not ONNX', path: () => file('notes.onnx', 'these are not the weights you are looking for\n'), message: /not (a valid ONNX file|an ONNX model)/ },
  { what: 'an empty file', path: () => file('empty.onnx', ''), message: /not an ONNX model/ },
  { what: 'a missing initializer', path: () => file('missing.onnx', conv([4, 3, 3, 3], false)), message: /node 'conv1' \(Conv\): input 'w' .*missing initializer/ },
  { what: 'a shape mismatch', path: () => file('mismatch.onnx', conv([4, 2, 3, 3])), message: /Conv node 'conv1': input has 3 channels but weight expects 2/ },
  { what: 'a path that does not exist', path: () => join(dir, 'nowhere.onnx'), message: /nowhere\.onnx: no such file/ },
  { what: 'a directory', path: () => dir, message: /not a file/ },
];

describe('bad input gets a one-line error naming the problem', () => {
  for (const c of cases) {
    it(c.what, () => {
      const path = c.path();
      assert.throws(() => readOnnxFile(path), (e: unknown) => e instanceof LuxcertError && c.message.test(e.message) && !e.message.includes('\n'));
      const r = luxcert('inspect', '--model', path);
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^luxcert: /);
      assert.match(lines[0]!, c.message);
      assert.equal(r.stdout, '');
    });
  }

  it('an unsupported operator is named with its node', () => {
    const path = file('sigmoid.onnx', onnxModel({
      opset: 13,
      inputs: [['x', [1, 4]]],
      outputs: [['y', [1, 4]]],
      nodes: [
        { opType: 'Relu', name: 'r', input: ['x'], output: ['h'] },
        { opType: 'Sigmoid', name: 'gate', input: ['h'], output: ['y'] },
      ],
    }));
    assert.throws(() => readOnnxFile(path), /unsupported operator Sigmoid \(node 'gate'\)/);
    const report = inspectModel(path);
    assert.equal(report.supported, false);
    assert.deepEqual(report.unsupported, [{ op: 'Sigmoid', node: 'gate' }]);
    const r = luxcert('inspect', '--model', path);
    assert.equal(r.code, 0, 'inspect reports support rather than failing');
    assert.match(r.stdout, /NOT supported: Sigmoid \(node 'gate'\)/);
  });
});
