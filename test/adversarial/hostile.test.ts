import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDeflate, crc32 } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { readCoco } from '../../src/data/coco.ts';
import { MAX_IMAGE_PIXELS, readImage } from '../../src/data/image.ts';
import { synthesize } from '../../src/data/synth.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { luxcert } from '../helpers/cli.ts';
import { attr, floatTensor, intTensor, onnxModel } from '../helpers/onnx-model.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { cloneGraph, zooModel } from './helpers.ts';

const root = tmpDir('adv-hostile');

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real decompression bomb: a valid all-black w × h RGB PNG, compressed row by row to a small file. */
async function pngBomb(path: string, w: number, h: number): Promise<number> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  const done = new Promise((r) => deflate.on('end', r));
  const row = Buffer.alloc(1 + 3 * w);
  for (let y = 0; y < h; y++) if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  deflate.end();
  await done;
  const file = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
  writeFileSync(path, file);
  return file.length;
}

/** One line on stderr, exit 1, within the time a refusal (not an allocation) takes. */
function refusedQuickly(args: string[], pattern: RegExp): void {
  const t0 = performance.now();
  const r = luxcert(...args);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.ok(performance.now() - t0 < 20_000, 'refused, not computed');
}

describe('hostile inputs are bounded', () => {
  const data = join(root, 'data');
  before(async () => {
    await synthesize({ out: data, count: 8, size: 48, seed: 3 });
  });

  it('a ConstantOfShape of 10¹² elements is refused before it is allocated', () => {
    const path = join(root, 'const-bomb.onnx');
    writeFileSync(path, onnxModel({
      opset: 13,
      inputs: [['image', ['n', 3, 32, 32]]],
      outputs: [['y', ['n', 3, 32, 32]]],
      initializers: [intTensor('shape', [2], [1_000_000, 1_000_000])],
      nodes: [{ opType: 'ConstantOfShape', name: 'bomb', input: ['shape'], output: ['big'] }, { opType: 'Relu', name: 'r', input: ['image'], output: ['y'] }],
    }));
    refusedQuickly(['inspect', '--model', path], /node 'bomb' \(ConstantOfShape\): shape \[1000000,1000000\] is not a valid shape of at most/);
  });

  it('a Pad to 200,032 × 200,032 pixels is refused from its shape, before onnxruntime sees it', () => {
    const path = join(root, 'pad-bomb.onnx');
    writeFileSync(path, onnxModel({
      opset: 13,
      inputs: [['image', ['n', 3, 32, 32]]],
      outputs: [['y', ['n', 3, 200032, 200032]]],
      initializers: [intTensor('pads', [8], [0, 0, 100000, 100000, 0, 0, 100000, 100000])],
      nodes: [{ opType: 'Pad', name: 'pad', input: ['image', 'pads'], output: ['y'] }],
    }));
    refusedQuickly(['inspect', '--model', path], /value 'y' has shape \[n,3,200032,200032\]: over \d+ elements per image, refused/);
  });

  it('NaN parameters hidden in attributes are refused at import', () => {
    const path = join(root, 'nan-attr.onnx');
    writeFileSync(path, onnxModel({
      opset: 13,
      inputs: [['x', ['n', 4]]],
      outputs: [['y', ['n', 2]]],
      initializers: [floatTensor('w', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])],
      nodes: [{ opType: 'Gemm', name: 'fc', input: ['x', 'w'], output: ['y'], attribute: [attr('transB', 1), attr('alpha', NaN, true)] }],
    }));
    refusedQuickly(['inspect', '--model', path], /node 'fc' \(Gemm\) attribute alpha is NaN/);
  });

  it('a PNG decompression bomb is refused from its header, as a file and as a frame of a run', async () => {
    const side = Math.ceil(Math.sqrt(MAX_IMAGE_PIXELS)) + 1000;
    const bomb = join(root, 'frames', 'a-bomb.png');
    mkdirSync(join(root, 'frames'));
    const bytes = await pngBomb(bomb, side, side);
    assert.ok(bytes < 1_000_000, `${bytes} bytes on disk for ${side} × ${side} pixels`);
    await assert.rejects(readImage(bomb), /a-bomb\.png: cannot read image \(Input image exceeds pixel limit\)/);
    copyFileSync(join(data, 'images', '000000.png'), join(root, 'frames', 'b-scene.png'));
    const { graph } = zooModel();
    const model = join(root, 'zoo.onnx');
    writeFileSync(model, encodeOnnx(graph));
    assert.equal(luxcert('export', '--model', model, '--out', join(root, 'bundle')).code, 0);
    const out = join(root, 'results.jsonl');
    const r = luxcert('run', '--bundle', join(root, 'bundle'), '--input', join(root, 'frames'), '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { processed: number; errors: number };
    assert.deepEqual([s.processed, s.errors], [1, 1]);
    const first = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!) as { ok: boolean; error: string };
    assert.equal(first.ok, false);
    assert.match(first.error, /exceeds pixel limit/);
  });

  it('data-set image paths cannot leave the data-set folder', () => {
    const ann = JSON.parse(readFileSync(join(data, 'annotations.json'), 'utf8')) as { images: { file_name: string }[] };
    for (const name of ['../../../etc/passwd', '/etc/passwd']) {
      const dir = join(root, `escape-${name.length}`);
      mkdirSync(dir);
      ann.images[0]!.file_name = name;
      writeFileSync(join(dir, 'annotations.json'), JSON.stringify(ann));
      assert.throws(() => readCoco(dir), /file_name '.*' leads outside the data set folder/);
    }
  });

  it('a model whose metadata disagrees with its input or the preprocessing is refused at export, in one line', () => {
    const cases: [string, (g: ReturnType<typeof zooModel>['graph']) => void, RegExp][] = [
      ['input size', (g) => (g.metadata['luxcert.input_size'] = '[64,64]'), /metadata input size 64x64 does not match the model input/],
      ['channels', (g) => (g.metadata['luxcert.channels'] = '1'), /metadata channels 1: luxcert feeds RGB images/],
      ['pixel scale', (g) => (g.metadata['luxcert.pixel_scale'] = '1'), /pixel scale 1 must be in \(0, 1\/255\]/],
      ['keypoint names', (g) => (g.metadata['luxcert.keypoints'] = '[1,2,3]'), /keypoint names must be a list/],
      ['skeleton', (g) => (g.metadata['luxcert.skeleton'] = '[[0,9]]'), /skeleton must be a list of \[i, j\] keypoint index pairs/],
    ];
    for (const [what, edit, pattern] of cases) {
      const g = cloneGraph(zooModel().graph);
      edit(g);
      const path = join(root, `meta-${what.replace(' ', '-')}.onnx`);
      writeFileSync(path, encodeOnnx(g));
      refusedQuickly(['export', '--model', path, '--out', join(root, `b-${what.replace(' ', '-')}`)], pattern);
    }
  });
});
