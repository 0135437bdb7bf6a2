import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/random.ts';
import { synthesize } from '../../src/data/synth.ts';
import { loadBundle } from '../../src/export/bundle.ts';
import { readOnnxFile } from '../../src/onnx/read.ts';
import { trainFolder, TRAIN_DEFAULTS } from '../../src/train/train-folder.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/luxcert.js', import.meta.url));
const root = tmpDir('adv-files');
const data = join(root, 'data');
const model = join(root, 'model.onnx');
const frames = join(root, 'frames');
const bundle = join(root, 'bundle');
const rng = new Rng(7);

/** Starts `luxcert` and, when `kill` says so, sends it a signal; resolves with its exit and output. */
function spawnLuxcert(args: string[], kill?: { signal: NodeJS.Signals; when: (stdout: string) => Promise<void> }): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LUXCERT_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    let done = false;
    p.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal, stdout, stderr });
    });
    if (kill) void kill.when(stdout).then(() => !done && p.kill(kill.signal));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs a command once to completion to learn how long it takes, then `n` times killed (SIGKILL,
 * or SIGTERM every third time) at a random moment of that span, calling `check` after each run.
 */
async function killedAtRandom(args: string[], n: number, prepare: () => void, check: (what: string) => void): Promise<void> {
  prepare();
  const t0 = performance.now();
  const full = await spawnLuxcert(args);
  assert.equal(full.code, 0, full.stderr);
  const span = performance.now() - t0;
  check('a complete run');
  for (let i = 0; i < n; i++) {
    prepare();
    const delay = rng.uniform(0.1, 0.97) * span;
    const signal = i % 3 === 2 ? 'SIGTERM' : 'SIGKILL';
    const r = await spawnLuxcert(args, { signal, when: () => sleep(delay) });
    check(`${signal} at ${delay.toFixed(0)} of ${span.toFixed(0)} ms (${r.signal ?? `exit ${r.code}`})`);
  }
}

/** Resolves once `file` exists and holds at least `lines` lines. */
async function linesIn(file: string, lines: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length > lines) return;
    await sleep(50);
  }
}

/** Every file of a folder with its content, to prove nothing changed. */
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

describe('no lost or destroyed files', () => {
  before(async () => {
    await synthesize({ out: data, count: 60, size: 48, seed: 5 });
    await trainFolder({ ...TRAIN_DEFAULTS, data, out: model, epochs: 1, batchSize: 16, augment: false, cropPadding: 1.0 });
    mkdirSync(frames);
    for (const f of readdirSync(join(data, 'images')).slice(0, 30)) copyFileSync(join(data, 'images', f), join(frames, f));
    assert.equal(luxcert('export', '--model', model, '--out', bundle).code, 0);
  });

  it('export refuses a folder that is not a bundle, and a file, and changes nothing', () => {
    const folder = join(root, 'my-stuff');
    mkdirSync(folder);
    writeFileSync(join(folder, 'notes.txt'), 'precious');
    copyFileSync(model, join(folder, 'model.onnx'));
    writeFileSync(join(folder, 'manifest.json'), '{"mine": true}');
    const before = snapshot(folder);
    let r = luxcert('export', '--model', join(folder, 'model.onnx'), '--out', folder);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^luxcert: --out .*my-stuff is a folder that is not a luxcert bundle .*nothing was changed/);
    assert.deepEqual(snapshot(folder), before);
    r = luxcert('export', '--model', model, '--out', join(folder, 'notes.txt'));
    assert.equal(r.code, 1);
    assert.deepEqual(snapshot(folder), before);
  });

  it('export replaces a bundle whole and leaves nothing beside it', () => {
    const out = join(root, 'replace', 'bundle');
    assert.equal(luxcert('export', '--model', model, '--out', out, '--tolerance', '3').code, 0);
    assert.equal(luxcert('export', '--model', model, '--out', out, '--tolerance', '4').code, 0);
    assert.equal(loadBundle(out).manifest.tolerance, 4);
    assert.deepEqual(readdirSync(dirname(out)), ['bundle']);
  });

  it('export killed at random moments leaves the previous bundle or a complete new one', async () => {
    const out = join(root, 'killed', 'bundle');
    await killedAtRandom(['export', '--model', model, '--out', out, '--tolerance', '2'], 8, () => {
      assert.equal(luxcert('export', '--model', model, '--out', out, '--tolerance', '1').code, 0);
      assert.deepEqual(readdirSync(dirname(out)), ['bundle']);
    }, (what) => {
      const t = loadBundle(out).manifest.tolerance;
      assert.ok(t === 1 || t === 2, `${what}: tolerance ${t}`);
      // A kill between writing and renaming leaves one temporary folder; the next export removes it.
      assert.ok(readdirSync(dirname(out)).filter((f) => f.startsWith('.bundle.new-')).length <= 1, what);
    });
  });

  it('prune killed at random moments never leaves a half-pruned --out: the previous file, or the finished model', async () => {
    const out = join(root, 'pruned.onnx');
    const args = ['prune', '--model', model, '--data', data, '--method', 'l1', '--sparsity', '0.5', '--rounds', '2', '--epochs', '4', '--out', out];
    await killedAtRandom(args, 8, () => writeFileSync(out, 'previous'), (what) => {
      if (readFileSync(out).toString() !== 'previous') assert.equal(readOnnxFile(out).metadata['luxcert.prune.method'], 'l1', `${what}: a finished model`);
    });
    assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('pruned.onnx.')), [], 'no temporary files beside --out');
  });

  it('train killed at random moments leaves the previous file or a complete model', async () => {
    const out = join(root, 'trained.onnx');
    await killedAtRandom(['train', '--data', data, '--out', out, '--epochs', '3', '--batch-size', '16'], 6, () => writeFileSync(out, 'previous'), (what) => {
      if (readFileSync(out).toString() !== 'previous') assert.ok(readOnnxFile(out).nodes.length > 0, what);
    });
  });

  it('run stopped by SIGINT or SIGTERM exits cleanly with its summary, and --out holds every processed frame', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const out = join(root, `results-${signal}.jsonl`);
      writeFileSync(out, 'previous\n');
      const r = await spawnLuxcert(['run', '--bundle', bundle, '--input', frames, '--out', out, '--fps', '4', '--json'], { signal, when: () => linesIn(`${out}.partial`, 2) });
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { processed: number; errors: number; interrupted: boolean; frames: number };
      assert.equal(summary.interrupted, true);
      assert.ok(summary.processed >= 2 && summary.processed < 30, `stopped early: ${summary.processed} frames`);
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean });
      assert.equal(lines.length, summary.processed + summary.errors);
      assert.ok(!existsSync(`${out}.partial`));
    }
  });

  it('run killed hard keeps the previous --out, and its .partial holds only complete lines', async () => {
    const out = join(root, 'results-kill.jsonl');
    writeFileSync(out, 'previous\n');
    await spawnLuxcert(['run', '--bundle', bundle, '--input', frames, '--out', out, '--fps', '4'], { signal: 'SIGKILL', when: () => linesIn(`${out}.partial`, 3) });
    assert.equal(readFileSync(out, 'utf8'), 'previous\n');
    const partial = readFileSync(`${out}.partial`, 'utf8');
    assert.ok(partial.endsWith('\n'));
    const lines = partial.trim().split('\n');
    assert.ok(lines.length >= 3);
    for (const l of lines) assert.equal((JSON.parse(l) as { ok: boolean }).ok, true);
  });

  it('outputs are checked before any work: a folder, a path under a file, or the command\'s own input', () => {
    const cases: [string[], RegExp][] = [
      [['prune', '--model', model, '--data', data, '--method', 'l1', '--sparsity', '0.5', '--out', root], /--out .* is a folder; give a file path/],
      [['prune', '--model', model, '--data', data, '--method', 'l1', '--sparsity', '0.5', '--out', model], /also this command's input/],
      [['train', '--data', data, '--out', join(model, 'x.onnx')], /is not a folder/],
      [['run', '--bundle', bundle, '--input', frames, '--out', frames], /also this command's input/],
      [['run', '--bundle', bundle, '--input', frames, '--out', join(bundle, 'model.onnx')], /also this command's input/],
      [['run', '--bundle', bundle, '--input', frames, '--annotate', model], /is a file; give a folder/],
      [['certify', '--model', model, '--data', data, '--csv', root], /--csv .* is a folder/],
      [['export', '--model', model, '--out', model], /also this command's input/],
    ];
    const modelBytes = readFileSync(model);
    for (const [args, pattern] of cases) {
      const r = luxcert(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
    }
    assert.deepEqual(readFileSync(model), modelBytes);
  });
});
