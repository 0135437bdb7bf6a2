import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readNodeConfig } from '../../src/ros/config-file.ts';
import { NODE_PARAMS } from '../../src/ros/node-params.ts';
import { exportBundle } from '../../src/export/bundle.ts';
import { boxFromFlags } from '../../src/model/perturbation.ts';
import { zooModel } from '../adversarial/helpers.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const dir = tmpDir('config');
let n = 0;
/** A parameter file with `body` under `/**: ros__parameters:`. */
function file(body: string, section = '/**'): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, `${section}:\n  ros__parameters:\n${body.split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return p;
}

describe('the node\'s parameter file, read as ROS 2 types it', () => {
  it('launch/params.yaml sets every parameter but the bundle (a launch argument), each with the type ROS 2 gives it', () => {
    const p = new URL('../../launch/params.yaml', import.meta.url).pathname;
    assert.throws(() => readNodeConfig(p), /params\.yaml: bad parameters: bundle is required/);
    const { values, settings } = readNodeConfig(p, { overrides: { bundle: '/b' } });
    assert.deepEqual(Object.keys(values).sort(), Object.keys(NODE_PARAMS).filter((k) => k !== 'bundle').sort());
    assert.equal(settings.bundle, '/b');
    assert.deepEqual(settings.trustKeys, []);
  });

  it('takes the types from how values are written, and sections for this node only', () => {
    const p = file('bundle: "/b"\nbudget_ms: 12.5\nthreads: 2\ncompressed: true\nroi_mode: fixed\nroi: [1.0, 2.0, 30.0]\nproviders: [tensorrt, cpu]');
    const { settings } = readNodeConfig(p);
    assert.equal(settings.budgetMs, 12.5);
    assert.equal(settings.threads, 2);
    assert.equal(settings.compressed, true);
    assert.deepEqual(settings.roi, [1, 2, 30]);
    assert.deepEqual(settings.providers, ['tensorrt', 'cpu']);
    const c = readNodeConfig(file('bundle: "/b"\nthreads: 010\ncompressed: yes\nautostart: Off\ntrt_workspace_mb: 0x100\ntrt_engine_cache_dir: ~')).values;
    assert.deepEqual([c.threads, c.compressed, c.autostart, c.trt_workspace_mb, c.trt_engine_cache_dir], [8, true, false, 256, '~'], 'strtol base 0 (octal, hex), YAML 1.1 bool words, plain ~ as a string');
    const two = join(dir, 'two.yaml');
    writeFileSync(two, 'camera:\n  ros__parameters:\n    fps: 30\n/luxcert/luxcert:\n  ros__parameters:\n    bundle: "/x"\n    threads: 3\n');
    assert.equal(readNodeConfig(two).settings.threads, 3, 'another node\'s section is left to it; /NAMESPACE/luxcert applies');
    assert.throws(() => readNodeConfig(two, { namespace: 'robot' }), /no section for the node \(expected '\/\*\*', 'luxcert' or '\/robot\/luxcert'/);
  });

  it('refuses, naming the file and the parameter, what ROS 2 or the node would refuse or ignore', () => {
    for (const [body, why] of [
      ['bundle: "/b"\nbudget_ms: 20', /'\/\*\*': budget_ms must be double, is integer \(write 20\.0: ROS 2 reads 20 as an integer/],
      ['bundle: "/b"\nthreads: 2.0', /threads must be integer, is double/],
      ['bundle: "/b"\ncompressed: "true"', /compressed must be bool, is string/],
      ['bundle: "/b"\nroi: [0, 0, 64]', /roi must be double array, is integer array \(write every element with a decimal point/],
      ['bundle: "/b"\nroi: [0.0, 0, 64.0]', /roi mixes double and integer elements/],
      ['bundle: "/b"\nproviders: cuda', /providers must be string array, is string/],
      ['bundle: "/b"\nproviders: [gpu]', /providers must be a list of tensorrt, cuda, cpu, got 'gpu'/],
      ['bundle: "/b"\nbudget_msec: 20.0', /unknown parameter 'budget_msec' \(ROS 2 would ignore it silently/],
      ['bundle: "/b"\nbudget_ms: -1.0', /budget_ms must be in \[0, 10000\]/],
      ['bundle: "/b"\nbudget_ms: .nan', /budget_ms must be double, is string/],
      ['bundle: "/b"\nbudget_ms: nan', /budget_ms must be a double/],
      ['bundle: "/b"\ncompressed: TrUe', /compressed must be bool, is string/],
      ['budget_ms: 5.0', /bundle is required/],
    ] as const) {
      const p = file(body);
      assert.throws(() => readNodeConfig(p), (e: Error) => e.message.startsWith(p) && why.test(e.message) && !e.message.includes('\n'), body);
    }
    const bad = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    assert.throws(() => readNodeConfig(bad('notyaml.yaml', '/**: [unclosed\n')), /notyaml\.yaml: not YAML/);
    assert.throws(() => readNodeConfig(bad('list.yaml', '- a\n- b\n')), /list\.yaml: a ROS 2 parameter file is a map/);
    assert.throws(() => readNodeConfig(bad('flat.yaml', '/**:\n  bundle: "/b"\n')), /flat\.yaml: section '\/\*\*' must hold exactly one key, ros__parameters/);
    assert.throws(() => readNodeConfig(bad('dup.yaml', '/**:\n  ros__parameters:\n    bundle: "/a"\n    bundle: "/b"\n')), /dup\.yaml: not YAML: .*[Uu]nique/);
    assert.throws(() => readNodeConfig(bad('big.yaml', `# ${'x'.repeat(1 << 20)}\n`)), /big\.yaml: parameter file of \d+ bytes, more than the 1048576 accepted/);
    assert.throws(() => readNodeConfig(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the parameter file \(ENOENT\)/);
  });

  it('luxcert doctor --config checks the file and then the bundle it names; --frames 0 stops there', () => {
    const bundle = join(dir, 'bundle');
    const { graph, meta } = zooModel();
    exportBundle(graph, meta, bundle, { maxBox: boxFromFlags(0.05, 0.05), tolerance: 2, boxesPerCall: 8, budgetMs: 10, grid: 1 });
    const good = file(`bundle: "${bundle}"\nproviders: [cpu]\nbudget_ms: 5.0`);
    let r = luxcert('doctor', '--config', good, '--frames', '0', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { checks } = JSON.parse(r.stdout) as { checks: { name: string; status: string; detail: string }[] };
    assert.deepEqual(checks.map((c) => [c.name, c.status]).slice(4), [['config', 'ok'], ['bundle', 'ok']]);
    assert.match(checks[4]!.detail, /3 parameters as ROS 2 will read them; bundle .*providers cpu, budget 5 ms/);
    r = luxcert('doctor', '--config', file(`bundle: "${bundle}"\nbudget_ms: 5`), '--frames', '0');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL config .*budget_ms must be double, is integer/m);
    assert.doesNotMatch(r.stdout, /bundle/, 'no bundle check after a bad config');
  });
});
