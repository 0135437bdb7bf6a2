import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { readNodeConfig } from '../../src/ros/config-file.ts';
import { tmpDir } from '../helpers/tmp.ts';

const REPO = new URL('../..', import.meta.url).pathname;
const DEPLOY = join(REPO, 'deploy/jetson');
const read = (p: string) => readFileSync(join(REPO, p), 'utf8');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** versions.tsv as records: the one table of pinned versions. */
function versions(): Record<string, string>[] {
  const lines = read('deploy/jetson/versions.tsv').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const [header, ...rows] = lines.map((l) => l.split('\t'));
  return rows.map((r) => {
    assert.equal(r.length, header!.length, `versions.tsv: a row of ${r.length} columns, the header has ${header!.length}`);
    return Object.fromEntries(header!.map((h, i) => [h, r[i]!]));
  });
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): { op: string; args: string }[] {
  return read('deploy/jetson/Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l.trim());
      assert.ok(m, `not an instruction: ${l}`);
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

function installSh(...args: string[]): { code: number; out: string } {
  const r = spawnSync('bash', [join(DEPLOY, 'install.sh'), ...args], { encoding: 'utf8', env: { ...process.env, LUXCERT_TEGRA_RELEASE: process.env.LUXCERT_TEGRA_RELEASE ?? '/nonexistent' } });
  return { code: r.status ?? 1, out: r.stdout + r.stderr };
}

describe('deploy/jetson', () => {
  it('versions.tsv pins each JetPack row fully, with the onnxruntime, rclnodejs and Node luxcert is built and checked with', () => {
    const rows = versions();
    assert.ok(rows.length >= 1);
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
    const ort = lock.packages['node_modules/onnxruntime-node']!.version;
    const rcl = /^version=(\S+)$/m.exec(read('scripts/typecheck-ros.sh'))![1];
    for (const r of rows) {
      for (const [k, v] of Object.entries(r)) assert.match(v, /^\S+$/, `JetPack ${r.jetpack}: ${k} is empty`);
      assert.match(r.base_image!, /^nvcr\.io\/nvidia\/l4t-jetpack:r\d+\.\d+\.\d+$/, 'a pinned tag');
      assert.equal(r.onnxruntime, ort, 'the binding is built from the version package-lock installs');
      assert.equal(r.rclnodejs, rcl, 'the rclnodejs the node is type-checked against');
      const [maj, min] = r.node!.split('.').map(Number);
      assert.ok(maj! > 20 || (maj === 20 && min! >= 20), `Node ${r.node} ≥ 20.20`);
      assert.equal(r.ros, 'humble', 'JetPack 6 is Ubuntu 22.04: ROS 2 Humble');
    }
  });

  it('install.sh --dry-run prints every step with the row\'s versions and changes nothing; bad options are one line', () => {
    const row = versions().at(-1)!;
    const r = installSh('--dry-run', '--jetpack', row.jetpack!, '--prefix', '/opt/lx');
    assert.equal(r.code, 0, r.out);
    for (const step of ['apt', 'node', 'luxcert', 'onnxruntime', 'ros-packages', 'service']) assert.match(r.out, new RegExp(`^==> ${step}: `, 'm'));
    assert.match(r.out, new RegExp(`ros-${row.ros}-ros-base`));
    const esc = (v: string) => v.replace(/\./g, '\\.');
    assert.match(r.out, new RegExp(`node-v${esc(row.node!)}-linux-arm64\\.tar\\.xz`));
    assert.match(r.out, new RegExp(`--branch v${row.onnxruntime} `));
    assert.match(r.out, /--use_cuda .*--use_tensorrt .*CMAKE_CUDA_ARCHITECTURES=87/);
    assert.match(r.out, /npm run build -- --config=Release --arch=arm64 .*--use_cuda --use_tensorrt/);
    assert.ok(r.out.indexOf('patch-onnxruntime-node.mjs') > r.out.indexOf('git clone') && r.out.indexOf('patch-onnxruntime-node.mjs') < r.out.indexOf('./build.sh'), 'the binding is patched before the build');
    assert.match(r.out, new RegExp(`libonnxruntime_providers_tensorrt\\.so /opt/lx/onnxruntime-${esc(row.onnxruntime!)}-cuda${esc(row.cuda!)}-trt${esc(row.tensorrt!)}\\.partial/`), 'built into a folder of its own, renamed when complete');
    assert.match(r.out, new RegExp(`rclnodejs@${row.rclnodejs}`));
    assert.match(r.out, /write \/etc\/systemd\/system\/luxcert\.service \(paths under \/opt\/lx\)/);
    assert.doesNotMatch(r.out, /^\+ systemctl enable/m, 'enabled only with --enable');
    assert.match(installSh('--dry-run', '--jetpack', row.jetpack!, '--enable', '--steps', 'service').out, /systemctl enable --now luxcert\.service/);
    for (const [args, why] of [
      [['--dry-run', '--jetpack', '5.1.2'], /^install\.sh: no row in versions\.tsv for JetPack 5\.1\.2 \(supported JetPack releases: /],
      [['--dry-run'], /^install\.sh: no --jetpack given and \/nonexistent does not name an L4T release/],
      [['--dry-run', '--jetpack', row.jetpack!, '--steps', 'apt,bogus'], /^install\.sh: unknown step 'bogus'/],
      [['--dry-run', '--jetpack', row.jetpack!, '--prefix', 'relative'], /--prefix must be an absolute path/],
      [['--jetpack', row.jetpack!, '--jobs', 'many'], /--jobs must be a positive integer/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ] as const) {
      const bad = installSh(...args);
      assert.equal(bad.code, 1, args.join(' '));
      assert.match(bad.out, why);
      assert.equal(bad.out.trim().split('\n').length, 1, bad.out);
    }
  });

  it('install.sh finds the row from the Jetson\'s /etc/nv_tegra_release', () => {
    const dir = tmpDir('tegra');
    for (const row of versions()) {
      const [maj, ...rest] = row.l4t!.split('.');
      const file = join(dir, `r${row.l4t}`);
      writeFileSync(file, `# R${maj} (release), REVISION: ${rest.join('.')}, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Tue Jan  7 17:35:12 UTC 2025\n# KERNEL_VARIANT: oot\n`);
      const r = spawnSync('bash', [join(DEPLOY, 'install.sh'), '--dry-run', '--steps', 'node'], { encoding: 'utf8', env: { ...process.env, LUXCERT_TEGRA_RELEASE: file } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^==> JetPack ${row.jetpack!.replace(/\./g, '\\.')} \\(L4T ${row.l4t!.replace(/\./g, '\\.')},`));
    }
  });

  it('the Dockerfile: pinned base of a versions.tsv row, pipefail, every install.sh step but the service, luxcert\'s whole package copied', () => {
    const ins = dockerfile();
    const rows = versions();
    const arg = (name: string) => ins.find((i) => i.op === 'ARG' && i.args.startsWith(`${name}=`))?.args.split('=')[1];
    const row = rows.find((r) => r.jetpack === arg('JETPACK'));
    assert.ok(row, `ARG JETPACK=${arg('JETPACK')} is a row of versions.tsv`);
    assert.equal(arg('BASE_IMAGE'), row.base_image, 'the default base is that row\'s');
    assert.deepEqual(ins.filter((i) => i.op === 'FROM').map((i) => i.args), ['${BASE_IMAGE}']);
    const firstRun = ins.findIndex((i) => i.op === 'RUN');
    const shell = ins.findIndex((i) => i.op === 'SHELL' && i.args.includes('pipefail'));
    assert.ok(shell >= 0 && shell < firstRun, 'SHELL with pipefail before the first RUN');
    const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.args);
    const steps = runs.flatMap((r) => [...r.matchAll(/install\.sh --container --jetpack "\$\{JETPACK\}" --steps (\S+)/g)].flatMap((m) => m[1]!.split(',')));
    assert.deepEqual(steps, ['apt', 'node', 'onnxruntime', 'luxcert', 'ros-packages'], 'install.sh\'s steps but the systemd service, onnxruntime\'s before the sources are copied');
    const ortRun = ins.findIndex((i) => i.op === 'RUN' && i.args.includes('--steps onnxruntime'));
    const firstSource = ins.findIndex((i) => i.op === 'COPY' && /^src /.test(i.args));
    assert.ok(ortRun < firstSource, 'a change to luxcert\'s sources does not rebuild onnxruntime');
    const copied = ins.filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    // What install.sh reads beside itself, but for the service's files, is there before the first step runs.
    const first = ins.find((i) => i.op === 'COPY')!.args.split(/\s+/).slice(0, -1);
    const service = ['luxcert-service', 'luxcert.yaml', 'luxcert.service', '99-luxcert-camera.rules'];
    for (const [, f] of read('deploy/jetson/install.sh').matchAll(/"\$here\/([\w.-]+)"/g)) {
      if (!service.includes(f!)) assert.ok(first.includes(`deploy/jetson/${f}`), `the image's first COPY brings ${f}, which install.sh reads`);
    }
    const pkg = JSON.parse(read('package.json')) as { files: string[] };
    for (const f of [...pkg.files, 'package.json', 'package-lock.json', '.npmrc']) assert.ok(copied.includes(f), `the image copies ${f}`);
    for (const f of copied) assert.ok(existsSync(join(REPO, f)), `COPY ${f} exists`);
    const ignored = read('.dockerignore').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const f of copied) assert.ok(!ignored.some((g) => f === g || f.startsWith(`${g}/`)), `${f} is not excluded by .dockerignore`);
    const entry = ins.find((i) => i.op === 'ENTRYPOINT')!.args;
    assert.deepEqual(JSON.parse(entry), ['/opt/luxcert/bin/luxcert-service'], 'exec form');
    assert.ok(runs.some((r) => r.includes('/opt/luxcert/bin/luxcert-service')), 'the entrypoint is installed by a RUN');
    assert.ok(ins.some((i) => i.op === 'ENV' && /NVIDIA_TF32_OVERRIDE=0/.test(i.args)));
  });

  it('patch-onnxruntime-node passes trtOptions to UpdateTensorRTProviderOptions in the TensorRT branch only, once; refuses a source it does not recognise', async () => {
    const { patchSource } = (await import(join(DEPLOY, 'patch-onnxruntime-node.mjs'))) as { patchSource(s: string): { src?: string; error?: string } };
    // The shape of onnxruntime's js/node/src/session_options_helper.cc around the provider branches.
    const src = [
      '#include <napi.h>', 'void ParseExecutionProviders(const Napi::Array epList, Ort::SessionOptions& sessionOptions) {', '  for (uint32_t i = 0; i < epList.Length(); i++) {', '    Napi::Value epValue = epList[i];',
      '    } else if (name == "cuda") {', '      options->device_id = deviceId;', '      sessionOptions.AppendExecutionProvider_CUDA_V2(*options);',
      '    } else if (name == "tensorrt") {', '      options->device_id = deviceId;', '      sessionOptions.AppendExecutionProvider_TensorRT_V2(*options);', '      Ort::GetApi().ReleaseTensorRTProviderOptions(options);', '  }', '}',
    ].join('\n');
    const r = patchSource(src);
    assert.equal(r.error, undefined);
    const out = r.src!;
    const call = out.indexOf('UpdateTensorRTProviderOptions(options');
    assert.ok(call > out.indexOf('name == "tensorrt"') && call < out.indexOf('AppendExecutionProvider_TensorRT_V2'), 'inside the TensorRT branch, before the provider is appended');
    assert.ok(call > out.indexOf('AppendExecutionProvider_CUDA_V2'), 'the CUDA branch is untouched');
    assert.match(out, /#include <vector>/);
    assert.equal(patchSource(out).src, out, 'patching twice changes nothing');
    assert.match(patchSource(src.replace('AppendExecutionProvider_TensorRT_V2', 'AppendExecutionProvider_TensorRT_V3')).error!, /found 0 \(onnxruntime changed its Node binding/);
    assert.match(patchSource(src.replace('epValue = epList[i]', 'ep = epList[i]')).error!, /no longer names its entry epValue/);
  });

  it('shell scripts and the Dockerfile\'s RUN lines pass shellcheck', { skip: has('shellcheck') ? false : 'shellcheck not installed (.ci/run installs it)' }, () => {
    const scripts = ['deploy/jetson/install.sh', 'deploy/jetson/build-image.sh', 'deploy/jetson/luxcert-service', 'scripts/check-arm64.sh', 'scripts/typecheck-ros.sh', 'scripts/install-opencv.sh', 'ros/luxcert_ros/scripts/luxcert_node'].filter((f) => existsSync(join(REPO, f)));
    let r = spawnSync('shellcheck', ['-x', ...scripts], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const dir = tmpDir('dockerfile-run');
    const body = ['#!/usr/bin/env bash', 'set -o pipefail', ...dockerfile().filter((i) => i.op === 'RUN').map((i) => i.args), ''].join('\n');
    writeFileSync(join(dir, 'run.sh'), body);
    // The build arguments are variables of each RUN's environment.
    r = spawnSync('shellcheck', ['--exclude=SC2154', join(dir, 'run.sh')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('the systemd unit verifies (systemd-analyze) and runs the wrapper with the config install.sh installs', { skip: has('systemd-analyze') ? false : 'systemd-analyze not installed' }, () => {
    const unit = read('deploy/jetson/luxcert.service');
    for (const line of ['Restart=on-failure', 'After=network-online.target dev-video0.device', 'StandardError=journal', 'ExecStart=/opt/luxcert/bin/luxcert-service /etc/luxcert/luxcert.yaml', 'ExecStartPre=/opt/luxcert/bin/luxcert-service --check /etc/luxcert/luxcert.yaml', 'Environment=NVIDIA_TF32_OVERRIDE=0', 'User=luxcert']) {
      assert.ok(unit.split('\n').includes(line), `the unit has ${line}`);
    }
    // As install.sh installs it: paths under the prefix, which holds the wrapper.
    const prefix = tmpDir('unit');
    mkdirSync(join(prefix, 'bin'));
    copyFileSync(join(DEPLOY, 'luxcert-service'), join(prefix, 'bin/luxcert-service'));
    spawnSync('chmod', ['+x', join(prefix, 'bin/luxcert-service')]);
    writeFileSync(join(prefix, 'luxcert.service'), unit.replaceAll('/opt/luxcert', prefix));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(prefix, 'luxcert.service')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stdout + r.stderr).trim(), '', 'no warning either');
    const broken = unit.replace('Restart=on-failure', 'Restrat=on-failure');
    writeFileSync(join(prefix, 'luxcert.service'), broken.replaceAll('/opt/luxcert', prefix));
    const w = spawnSync('systemd-analyze', ['verify', '--man=no', join(prefix, 'luxcert.service')], { encoding: 'utf8' });
    assert.match(w.stderr, /Unknown key 'Restrat'/, 'the check sees a typo');
  });

  it('the service config is a valid parameter file as ROS 2 types it, and compose mounts the bundle where it says', () => {
    const { settings } = readNodeConfig(join(DEPLOY, 'luxcert.yaml'));
    assert.equal(settings.bundle, '/var/lib/luxcert/bundle');
    assert.deepEqual(settings.providers, ['tensorrt', 'cuda', 'cpu']);
    const compose = parse(read('deploy/jetson/compose.yaml')) as { services: { luxcert: { runtime: string; network_mode: string; volumes: string[]; devices: string[] } } };
    const svc = compose.services.luxcert;
    assert.equal(svc.runtime, 'nvidia');
    assert.equal(svc.network_mode, 'host', 'ROS 2 discovery');
    // host:target:mode, read from the right (the host side may hold ${VAR:-default}).
    const mounts = svc.volumes.map((v) => v.split(':').slice(-2));
    assert.ok(mounts.some(([target, mode]) => target === settings.bundle && mode === 'ro'), 'the bundle, read-only, where the config says');
    assert.ok(mounts.some(([target, mode]) => target === '/etc/luxcert/luxcert.yaml' && mode === 'ro'), 'the config, read-only, where the entrypoint reads it');
    assert.ok(svc.devices.some((d) => d.startsWith('/dev/video')));
  });

  it('docs/jetson.md lists every row of versions.tsv', () => {
    const doc = read('docs/jetson.md');
    for (const r of versions()) {
      const line = doc.split('\n').find((l) => l.startsWith(`| ${r.jetpack} |`));
      assert.ok(line, `docs/jetson.md has a row for JetPack ${r.jetpack}`);
      for (const k of ['l4t', 'cuda', 'tensorrt', 'onnxruntime', 'node', 'rclnodejs']) assert.ok(line.includes(r[k]!), `JetPack ${r.jetpack}: ${k} ${r[k]} in the docs' table`);
    }
  });
});
