import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exportBundle } from '../../src/export/bundle.ts';
import { generateSigningKeys } from '../../src/export/signing.ts';
import { boxFromFlags } from '../../src/model/perturbation.ts';
import { zooModel } from '../adversarial/helpers.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

describe('luxcert doctor', () => {
  const root = tmpDir('doctor');
  const bundle = join(root, 'bundle');
  const { graph, meta } = zooModel();
  exportBundle(graph, meta, bundle, { maxBox: boxFromFlags(0.05, 0.05), tolerance: 2, boxesPerCall: 8, budgetMs: 10, grid: 1 });

  it('reports every check, one line each, and measures the bundle\'s frame rate', () => {
    const r = luxcert('doctor', '--bundle', bundle, '--frames', '5', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { checks } = JSON.parse(r.stdout) as { checks: { name: string; status: string; detail: string }[] };
    assert.deepEqual(checks.map((c) => c.name), ['node', 'onnxruntime', 'ros', 'cameras', 'bundle', 'frame rate']);
    assert.match(checks[1]!.detail, /onnxruntime-node \d+\.\d+\.\d+, the npm binding; execution providers installed: .*cpu/);
    assert.equal(checks[4]!.status, 'ok');
    assert.match(checks[4]!.detail, /certifier rebuilt and identical, unsigned/);
    assert.match(checks[5]!.detail, /≈ \d+ frames\/s with the model on cpu and the certifier on the CPU \(p50 [\d.]+ ms/);
    const human = luxcert('doctor');
    assert.equal(human.code, 0);
    assert.equal(human.stdout.trim().split('\n').length, 4, 'without a bundle: node, onnxruntime, ros, cameras');
  });

  it('fails, exit 1, on a tampered bundle or one not signed by the trusted key', () => {
    const key = join(root, 'team.pub');
    writeFileSync(key, generateSigningKeys().publicPem);
    let r = luxcert('doctor', '--bundle', bundle, '--trust', key);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL bundle .*not signed/m);
    const manifest = join(bundle, 'manifest.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"tolerance": 2', '"tolerance": 3'));
    r = luxcert('doctor', '--bundle', bundle);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL bundle .*not the certifier of model\.onnx/m);
    assert.doesNotMatch(r.stdout, /frame rate/);
  });
});
