import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { before, describe, it } from 'node:test';
import { LuxcertError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/random.ts';
import { readCoco } from '../../src/data/coco.ts';
import { sampleWindow, toWindow, windowFromBbox } from '../../src/data/crop.ts';
import { loadDataset, splitIndices } from '../../src/data/dataset.ts';
import { makeBatch } from '../../src/data/batch.ts';
import { composeScene, PAD_KEYPOINTS, renderScene, type ComposedScene } from '../../src/data/scene.ts';
import { ScenePool } from '../../src/data/scene-pool.ts';
import { MIN_POOLED_SCENES, synthesize } from '../../src/data/synth.ts';
import { perturbImage } from '../../src/model/perturbation.ts';
import { BIN, luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('data');
const a = join(root, 'a');

describe('synthetic scenes', () => {
  before(async () => {
    await synthesize({ out: a, count: 12, size: 64, seed: 3, workers: 0 });
  });

  it('are written in COCO keypoints layout and read back by the reader', () => {
    const set = readCoco(a);
    assert.equal(set.objects.length, 12);
    assert.deepEqual(set.keypointNames, PAD_KEYPOINTS);
    assert.deepEqual(set.skeleton, [[0, 1], [1, 2], [2, 3], [3, 0]]);
    for (const o of set.objects) {
      const [x, y, w, h] = o.bbox;
      for (let j = 0; j < 4; j++) {
        const [kx, ky] = [o.keypoints[3 * j]!, o.keypoints[3 * j + 1]!];
        assert.ok(kx >= x - 1e-9 && kx <= x + w + 1e-9 && ky >= y - 1e-9 && ky <= y + h + 1e-9, 'corners span the bbox');
      }
    }
  });

  it('are reproducible from the seed and differ between seeds', async () => {
    const again = join(root, 'again');
    const other = join(root, 'other');
    await synthesize({ out: again, count: 12, size: 64, seed: 3 });
    await synthesize({ out: other, count: 12, size: 64, seed: 4 });
    assert.equal(readFileSync(join(again, 'annotations.json'), 'utf8'), readFileSync(join(a, 'annotations.json'), 'utf8'));
    assert.deepEqual(readFileSync(join(again, 'images/000005.png')), readFileSync(join(a, 'images/000005.png')));
    assert.notEqual(readFileSync(join(other, 'annotations.json'), 'utf8'), readFileSync(join(a, 'annotations.json'), 'utf8'));
  });

  it('write the same files when scenes are finished on worker threads', async () => {
    const pooled = join(root, 'pooled');
    await synthesize({ out: pooled, count: 12, size: 64, seed: 3, workers: 2 });
    assert.equal(readFileSync(join(pooled, 'annotations.json'), 'utf8'), readFileSync(join(a, 'annotations.json'), 'utf8'));
    for (let i = 0; i < 12; i++) {
      const f = `images/${String(i).padStart(6, '0')}.png`;
      assert.deepEqual(readFileSync(join(pooled, f)), readFileSync(join(a, f)), f);
    }
  });

  it('come out of `luxcert data synth` the same when its workers finish them, started from another folder', async () => {
    // MIN_POOLED_SCENES scenes: the executable's default puts them on the pool, whose workers boot tsx themselves.
    const [cli, here] = [join(root, 'cli'), join(root, 'here')];
    const r = spawnSync(process.execPath, [BIN, 'data', 'synth', '--out', cli, '--count', String(MIN_POOLED_SCENES), '--size', '16', '--seed', '6'], { cwd: tmpDir('synth-cwd'), encoding: 'utf8', env: { ...process.env, LUXCERT_LOG_LEVEL: 'warn' } });
    assert.equal(r.status, 0, r.stderr);
    await synthesize({ out: here, count: MIN_POOLED_SCENES, size: 16, seed: 6, workers: 0 });
    assert.equal(readFileSync(join(cli, 'annotations.json'), 'utf8'), readFileSync(join(here, 'annotations.json'), 'utf8'));
    for (const f of readdirSync(join(here, 'images'))) assert.deepEqual(readFileSync(join(cli, 'images', f)), readFileSync(join(here, 'images', f)), f);
  });

  it('render the same pixels and keypoints as the renderer the documented results were measured on', () => {
    // Every figure in docs/results.md and the demo's stems from these scenes: a renderer that is only
    // meant to be faster must not move a pixel. The digest is of the renderer before 2026-12-03's speed-up.
    const h = createHash('sha256');
    for (const [seed, size, n] of [[1, 96, 10], [2, 40, 40]] as const) {
      const rng = new Rng(seed);
      for (let i = 0; i < n; i++) {
        const s = renderScene(rng, size);
        h.update(s.image.data);
        h.update(JSON.stringify([s.keypoints, s.bbox]));
      }
    }
    assert.equal(h.digest('hex'), '29a358200f79355f81fc2c7384dd44372e9e814619a6524299f98e30e02c880b');
  });

  it('crop to the padded bbox with keypoints mapped into input pixels', async () => {
    const set = await loadDataset(a);
    const b = makeBatch(set, [0, 1, 2], [32, 32], 1.25);
    assert.equal(b.x.length, 3 * 3 * 32 * 32);
    assert.ok(b.x.every((v) => v >= 0 && v <= 1));
    // The bbox spans 1/1.25 of the window, centred: corners lie inside [3.2, 28.8].
    for (let i = 0; i < b.keypoints.length; i++) assert.ok(b.keypoints[i]! >= 3.2 - 1e-3 && b.keypoints[i]! <= 28.8 + 1e-3);
  });

  it('augmentation applies clip(α·x + β, 0, 1) and moves keypoints with the window', async () => {
    const set = await loadDataset(a);
    const plain = makeBatch(set, [4], [32, 32], 1.25);
    const dark = makeBatch(set, [4], [32, 32], 1.25, { rng: new Rng(1), params: { shift: 0, scale: 0, brightness: 0, contrast: 0 } });
    assert.deepEqual(dark.x, plain.x, 'zero-strength augmentation is the identity');
    const moved = makeBatch(set, [4], [32, 32], 1.25, { rng: new Rng(1), params: { shift: 0.1, scale: 0.1, brightness: 0.2, contrast: 0.2 } });
    assert.notDeepEqual(moved.keypoints, plain.keypoints);
  });

  it('splits reproducibly by seed without overlap', () => {
    const s1 = splitIndices(100, 0.2, 7);
    assert.deepEqual(s1, splitIndices(100, 0.2, 7));
    assert.equal(s1.val.length, 20);
    assert.equal(new Set([...s1.train, ...s1.val]).size, 100);
    assert.notDeepEqual(splitIndices(100, 0.2, 8).val, s1.val);
  });
});

describe('window sampling', () => {
  it('maps an image point to where it lands in the resampled window', () => {
    const w = 40;
    const data = new Uint8Array(w * w * 3);
    const [px, py] = [23, 11];
    data.fill(255, (py * w + px) * 3, (py * w + px) * 3 + 3);
    const win = { cx: 20, cy: 16, side: 20 };
    const out = new Float32Array(3 * 20 * 20);
    sampleWindow({ width: w, height: w, data }, win, [20, 20], 1 / 255, out);
    let best = 0;
    for (let i = 1; i < 400; i++) if (out[i]! > out[best]!) best = i;
    const [ex, ey] = toWindow(win, [20, 20], px + 0.5, py + 0.5);
    assert.deepEqual([best % 20 + 0.5, Math.floor(best / 20) + 0.5], [ex, ey]);
    assert.deepEqual(windowFromBbox([10, 20, 8, 4], 1.5), { cx: 14, cy: 22, side: 12 });
  });

  it('equals bilinear interpolation with black outside the image, bit for bit, and the perturbation as perturbImage would apply it', () => {
    // The definition, pixel by pixel: every read checked against the image's bounds.
    const reference = (img: { width: number; height: number; data: Uint8Array }, win: { cx: number; cy: number; side: number }, [oh, ow]: [number, number]) => {
      const out = new Float32Array(3 * oh * ow);
      const at = (y: number, x: number, c: number) => (y >= 0 && y < img.height && x >= 0 && x < img.width ? img.data[(y * img.width + x) * 3 + c]! : 0);
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const u = win.cx - win.side / 2 + ((j + 0.5) * win.side) / ow - 0.5;
          const v = win.cy - win.side / 2 + ((i + 0.5) * win.side) / oh - 0.5;
          const [xi, yi] = [Math.floor(u), Math.floor(v)];
          const [fx, fy] = [u - xi, v - yi];
          for (let c = 0; c < 3; c++) {
            const top = at(yi, xi, c) * (1 - fx) + at(yi, xi + 1, c) * fx;
            const bottom = at(yi + 1, xi, c) * (1 - fx) + at(yi + 1, xi + 1, c) * fx;
            out[c * oh * ow + i * ow + j] = (top * (1 - fy) + bottom * fy) * (1 / 255);
          }
        }
      }
      return out;
    };
    const rng = new Rng(11);
    for (let t = 0; t < 500; t++) {
      const img = { width: rng.int(0, 30), height: rng.int(0, 30), data: new Uint8Array(0) };
      img.data = Uint8Array.from({ length: img.width * img.height * 3 }, () => rng.int(0, 255));
      // Windows inside, across the border of and wholly outside the image, up- and downsampled.
      const win = { cx: rng.uniform(-15, 45), cy: rng.uniform(-15, 45), side: rng.uniform(0.5, 60) };
      const size: [number, number] = [rng.int(1, 16), rng.int(1, 16)];
      const want = reference(img, win, size);
      const got = new Float32Array(want.length + 2);
      sampleWindow(img, win, size, 1 / 255, got, 1);
      assert.ok(want.every((v, i) => Object.is(v, got[i + 1])), `window ${JSON.stringify(win)} on ${img.width}×${img.height}`);
      const [alpha, beta] = [rng.uniform(0.5, 1.5), rng.uniform(-0.5, 0.5)];
      sampleWindow(img, win, size, 1 / 255, got, 1, { alpha, beta });
      const perturbed = perturbImage(want, alpha, beta);
      assert.ok(perturbed.every((v, i) => Object.is(v, got[i + 1])));
    }
  });
});

describe('scenes finished on worker threads (ScenePool)', () => {
  it('finish a scene to the pixels renderScene makes, and fail a malformed one naming the worker', async () => {
    const pool = new ScenePool(1);
    try {
      const scene = composeScene(new Rng(4), 40);
      const expected = renderScene(new Rng(4), 40).image;
      assert.deepEqual(await pool.finish(scene), expected);
      const broken = { ...composeScene(new Rng(4), 40), noiseStream: undefined } as unknown as ComposedScene;
      await assert.rejects(pool.finish(broken), /scene worker 1 failed/);
      // One bad scene does not stop the pool.
      assert.deepEqual(await pool.finish(composeScene(new Rng(4), 40)), expected);
    } finally {
      await pool.close();
    }
  });

  it('fail the scenes of a worker that exits, and every later one, instead of hanging', async () => {
    const pool = new ScenePool(1);
    const waiting = pool.finish(composeScene(new Rng(4), 96));
    await (pool as unknown as { workers: { worker: Worker }[] }).workers[0]!.worker.terminate();
    await assert.rejects(waiting, /scene worker 1 exited/);
    await assert.rejects(pool.finish(composeScene(new Rng(4), 40)), /scene worker 1 exited/);
    await pool.close();
    await assert.rejects(pool.finish(composeScene(new Rng(4), 40)), /exited|closed/);
  });
});

describe('bad data gets a one-line error', () => {
  const coco = (dir: string, patch: (c: Record<string, unknown>) => void) => {
    const src = JSON.parse(readFileSync(join(a, 'annotations.json'), 'utf8')) as Record<string, unknown>;
    patch(src);
    writeFileSync(join(dir, 'annotations.json'), JSON.stringify(src));
  };
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['malformed annotations JSON', (d) => writeFileSync(join(d, 'annotations.json'), '{"images": ['), /annotations\.json: malformed JSON/],
    ['a keypoint count that does not match the category', (d) => coco(d, (c) => { (c.annotations as { keypoints: number[] }[])[0]!.keypoints.push(1, 2, 2); }), /annotation 0 has 5 keypoint triplets, category 'landing_pad' has 4/],
    ['a keypoint value that is not a number', (d) => coco(d, (c) => { (c.annotations as { keypoints: unknown[] }[])[0]!.keypoints[4] = '7'; }), /annotation 0 keypoint 'pad_right' has y = "7", not a finite number/],
    ['a visibility COCO does not define', (d) => coco(d, (c) => { (c.annotations as { keypoints: number[] }[])[0]!.keypoints[2] = 3; }), /annotation 0 keypoint 'pad_marked' has visibility 3/],
    ['an image id given twice', (d) => coco(d, (c) => { (c.images as unknown[]).push({ ...(c.images as object[])[0]! }); }), /image id 0 appears twice/],
    ['a bbox beside its image', (d) => coco(d, (c) => { (c.annotations as { bbox: number[] }[])[0]!.bbox = [70, 10, 5, 5]; }), /annotation 0 bbox \[70, 10, 5, 5\] does not meet image 0 \(64×64\)/],
    ['a bbox of another scale', (d) => coco(d, (c) => { (c.annotations as { bbox: number[] }[])[0]!.bbox = [0, 0, 1e30, 1e30]; }), /annotation 0 bbox .* reaches more than the image's size beyond it/],
    ['an empty data set', (d) => coco(d, (c) => { c.annotations = []; }), /empty data set/],
    ['a folder without annotations', () => undefined, /no annotations\.json/],
  ];
  for (const [what, make, message] of cases) {
    it(what, () => {
      const d = tmpDir('bad-coco');
      make(d);
      assert.throws(() => readCoco(d), (e: unknown) => e instanceof LuxcertError && message.test(e.message) && !e.message.includes('\n'));
    });
  }
  it('scene synthesis fails, without annotations.json, when an image cannot be written while later ones render', async () => {
    for (const workers of [0, 2]) {
      const d = tmpDir('synth-blocked');
      // A folder where the second image goes: its write fails while later scenes are composed and finished.
      mkdirSync(join(d, 'images', '000001.png'), { recursive: true });
      await assert.rejects(synthesize({ out: d, count: 12, size: 32, seed: 1, workers }), /000001\.png/);
      assert.ok(!existsSync(join(d, 'annotations.json')));
      assert.ok(existsSync(join(d, 'images', '000000.png')));
      // Nothing is still being written once it has failed.
      const listed = readdirSync(join(d, 'images')).sort();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(readdirSync(join(d, 'images')).sort(), listed);
    }
  });

  it('a missing or corrupt image names the file', async () => {
    const d = tmpDir('bad-img');
    await synthesize({ out: d, count: 3, size: 32, seed: 1 });
    writeFileSync(join(d, 'images/000001.png'), 'not a png');
    await assert.rejects(loadDataset(d), /images\/000001\.png: cannot read image/);
    // Decoded several at a time, the error still names the first bad file in the set's order.
    writeFileSync(join(d, 'images/000002.png'), 'not a png either');
    await assert.rejects(loadDataset(d), (e: Error) => /images\/000001\.png: cannot read image/.test(e.message) && !e.message.includes('000002'));
    rmSync(join(d, 'images/000001.png'));
    await assert.rejects(loadDataset(d), /images\/000001\.png: cannot read image/);
  });
  it('an image of another size than its annotation gives is refused, naming both', async () => {
    const d = tmpDir('bad-size');
    await synthesize({ out: d, count: 3, size: 32, seed: 1 });
    const c = JSON.parse(readFileSync(join(d, 'annotations.json'), 'utf8')) as { images: { width: number }[] };
    c.images[1]!.width = 64;
    writeFileSync(join(d, 'annotations.json'), JSON.stringify(c));
    await assert.rejects(loadDataset(d), /images\/000001\.png: the image is 32×32 but annotations\.json gives 64×32/);
  });
  it('a zero, negative or unreadably large size or count is refused by `luxcert data synth`', () => {
    // 100,000 px: an internal error allocating the scene before; the reader refuses images over 40 MP.
    for (const args of [['--size', '0'], ['--size', '-5'], ['--count', '0'], ['--size', '8'], ['--size', '100000']]) {
      const r = luxcert('data', 'synth', '--out', join(root, 'never'), ...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr.trim(), /^luxcert: --(size|count) must be/);
      assert.ok(!existsSync(join(root, 'never')), 'nothing written');
    }
  });
});
