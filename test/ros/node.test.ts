import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Frame } from '../../src/runtime/frames.ts';
import { imageFromCompressed, imageFromMsg } from '../../src/ros/image-convert.ts';
import { LatestFrameQueue } from '../../src/ros/latest-frame-queue.ts';
import { checkParam, nodeSettings } from '../../src/ros/node-params.ts';
import { detectionBoxes, RegionSelector } from '../../src/ros/roi.ts';
import { readImage } from '../../src/data/image.ts';
import { synthesize } from '../../src/data/synth.ts';
import { trainFolder, TRAIN_DEFAULTS } from '../../src/train/train-folder.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const python = (code: string, ...args: string[]) => spawnSync('/usr/bin/python3', ['-c', code, ...args], { encoding: 'utf8', cwd: REPO });
const hasPython = spawnSync('/usr/bin/python3', ['--version']).status === 0;
const hasCatkin = hasPython && python('import catkin_pkg').status === 0;
const rosReady = Boolean(process.env.ROS_DISTRO) && (() => {
  try {
    createRequire(import.meta.url).resolve('rclnodejs');
    return true;
  } catch {
    return false;
  }
})();

describe('the ROS node without ROS: its pure parts', () => {
  it('sensor_msgs/Image: rgb8, bgr8, rgba8, bgra8 and mono8 become RGB, honouring the row step', () => {
    const px = [[10, 20, 30], [40, 50, 60]];
    const row = (c: number, order: (p: number[]) => number[]) => [...px.flatMap((p) => order(p).concat(c === 4 ? [255] : []).slice(0, c)), 0, 0];
    const cases = { rgb8: [3, (p: number[]) => p], bgr8: [3, (p: number[]) => [...p].reverse()], rgba8: [4, (p: number[]) => p], bgra8: [4, (p: number[]) => [p[2]!, p[1]!, p[0]!]] } as const;
    for (const [encoding, [c, order]] of Object.entries(cases)) {
      const r = row(c, order);
      const img = imageFromMsg({ height: 2, width: 2, encoding, is_bigendian: 0, step: r.length, data: Uint8Array.from([...r, ...r]) });
      assert.deepEqual(Array.from(img.data), [10, 20, 30, 40, 50, 60, 10, 20, 30, 40, 50, 60], encoding);
    }
    const mono = imageFromMsg({ height: 1, width: 2, encoding: 'mono8', is_bigendian: 0, step: 2, data: [7, 9] });
    assert.deepEqual(Array.from(mono.data), [7, 7, 7, 9, 9, 9]);
  });

  it('sensor_msgs/Image that is 16-bit, Bayer, inconsistent or too large is refused with the reason', () => {
    const base = { height: 2, width: 2, encoding: 'rgb8', is_bigendian: 0, step: 6, data: new Uint8Array(12) };
    for (const [bad, why] of [
      [{ encoding: 'mono16' }, /'mono16' is not supported .*16-bit/],
      [{ encoding: 'bayer_rggb8' }, /not supported/],
      [{ step: 5 }, /step 5 is shorter than a row/],
      [{ data: new Uint8Array(11) }, /holds 11 bytes/],
      [{ width: 0 }, /image size 0×2/],
      [{ width: 100_000, height: 100_000, step: 300_000 }, /image size 100000×100000 is not between/],
    ] as const) assert.throws(() => imageFromMsg({ ...base, ...bad }), why);
  });

  it('sensor_msgs/CompressedImage decodes with sharp; an oversized header is refused before decoding', async () => {
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer();
    const img = await imageFromCompressed({ format: 'png', data: new Uint8Array(png) });
    assert.deepEqual([img.width, img.height, ...img.data.subarray(0, 3)], [3, 2, 200, 100, 50]);
    await assert.rejects(imageFromCompressed({ format: 'jpeg', data: new Uint8Array([1, 2, 3]) }), /compressed image \(jpeg\): cannot read image/);
  });

  it('regions: the centred square, a fixed window, detections matched by stamp, tracking the last keypoints', () => {
    const img = { width: 200, height: 100 };
    assert.deepEqual(new RegionSelector({ mode: 'centre', cropPadding: 1.25, stampToleranceNs: 0n }).regions(img, 0n), [{ win: { cx: 100, cy: 50, side: 100 }, source: 'centre' }]);
    assert.deepEqual(new RegionSelector({ mode: 'fixed', fixed: [10, 20, 40], cropPadding: 1, stampToleranceNs: 0n }).regions(img, 0n), [{ win: { cx: 30, cy: 40, side: 40 }, source: 'fixed' }]);
    assert.throws(() => new RegionSelector({ mode: 'fixed', fixed: [1, 2], cropPadding: 1, stampToleranceNs: 0n }), /roi must be \[x, y, size\]/);
    const det = new RegionSelector({ mode: 'detections', cropPadding: 2, stampToleranceNs: 5_000_000n });
    det.addDetections(1_000_000_000n, detectionBoxes({ detections: [{ id: 'a', bbox: { center: { position: { x: 50, y: 40 } }, size_x: 20, size_y: 10 } }, { bbox: { center: { x: 150, y: 60 }, size_x: 8, size_y: 16 } }, { id: 'bad', bbox: { center: { x: 1, y: 1 }, size_x: 0, size_y: 3 } }] }));
    assert.deepEqual(det.regions(img, 1_003_000_000n), [{ win: { cx: 50, cy: 40, side: 40 }, source: 'detection:a' }, { win: { cx: 150, cy: 60, side: 32 }, source: 'detection:1' }]);
    assert.deepEqual(det.regions(img, 1_010_000_000n), [], 'no detection within the stamp tolerance');
    const track = new RegionSelector({ mode: 'tracking', cropPadding: 1.5, stampToleranceNs: 0n });
    assert.equal(track.regions(img, 0n)[0]!.source, 'centre', 'nothing to track yet');
    track.observe([[40, 30], [60, 50]]);
    assert.deepEqual(track.regions(img, 0n), [{ win: { cx: 50, cy: 40, side: 30 }, source: 'tracked' }]);
  });

  it('parameters: defaults validate, bad values are refused with the reason, the bundle is required', () => {
    const s = nodeSettings({ bundle: '/b', trust_keys: [''] });
    assert.deepEqual([s.bundle, s.trustKeys, s.roiMode, s.reliability, s.autostart, s.budgetMs], ['/b', [], 'centre', 'best_effort', true, undefined]);
    assert.equal(nodeSettings({ bundle: '/b', budget_ms: 30 }).budgetMs, 30);
    assert.throws(() => nodeSettings({}), /bad parameters: bundle is required/);
    assert.throws(() => nodeSettings({ bundle: '/b', roi_mode: 'fixed' }), /roi must be \[x, y, size\] with size > 0 when roi_mode is fixed/);
    for (const [name, value, why] of [
      ['budget_ms', -1, /budget_ms must be in \[0, 10000\]/],
      ['budget_ms', 'fast', /budget_ms must be a double/],
      ['threads', 2.5, /threads must be an integer/],
      ['qos_reliability', 'sometimes', /qos_reliability must be one of best_effort, reliable/],
      ['roi_mode', 'everywhere', /roi_mode must be one of centre, fixed, detections, tracking/],
      ['image_topic', 'bad topic!', /not a valid ROS topic name/],
      ['providers', 'cuda', /providers must be a string array/],
      ['providers', ['gpu', 'cpu'], /providers must be a list of tensorrt, cuda, cpu, got 'gpu'/],
      ['gpu_device_id', -1, /gpu_device_id must be in \[0, 63\]/],
      ['trt_workspace_mb', 100000, /trt_workspace_mb must be in \[0, 65536\]/],
      ['trt_engine_cache_dir', 3, /trt_engine_cache_dir must be a string/],
      ['nonsense', 1, /unknown parameter 'nonsense'/],
    ] as const) assert.match(checkParam(name, value) ?? '', why, `${name} = ${String(value)}`);
    assert.equal(checkParam('threads', 4n), undefined, 'rclnodejs gives integers as bigint');
  });

  it('the newest frame waits; older waiting frames are dropped and counted; close ends the stream', async () => {
    const q = new LatestFrameQueue();
    const f = (id: number): Frame => ({ id, source: 's', timestamp: id });
    const it = q[Symbol.asyncIterator]();
    const first = it.next();
    q.push(f(0));
    assert.equal(((await first).value as Frame).id, 0, 'a waiting reader gets the frame at once');
    q.push(f(1));
    q.push(f(2));
    q.push(f(3));
    assert.equal(q.dropped, 2);
    assert.equal(((await it.next()).value as Frame).id, 3);
    const pending = it.next();
    q.close();
    assert.equal((await pending).done, true);
  });

  it('launch files compile, XML is well formed, the node script is executable shell', { skip: hasPython ? false : 'no /usr/bin/python3' }, () => {
    assert.equal(spawnSync('/usr/bin/python3', ['-m', 'py_compile', 'launch/luxcert.launch.py'], { cwd: REPO }).status, 0);
    const xml = python('import sys, xml.dom.minidom as m\nfor f in sys.argv[1:]: m.parse(f)', 'launch/luxcert.launch.xml', 'ros/luxcert_msgs/package.xml', 'ros/luxcert_ros/package.xml');
    assert.equal(xml.status, 0, xml.stderr);
    assert.equal(spawnSync('bash', ['-n', 'ros/luxcert_ros/scripts/luxcert_node'], { cwd: REPO }).status, 0);
    assert.ok(statSync(`${REPO}/ros/luxcert_ros/scripts/luxcert_node`).mode & 0o100);
  });

  it('package.xml files validate with catkin_pkg (format 3)', { skip: hasCatkin ? false : 'python3-catkin-pkg is not installed (.ci/run installs it)' }, () => {
    const r = python('import sys\nfrom catkin_pkg.package import parse_package\nfor d in sys.argv[1:]:\n    p = parse_package(d)\n    p.validate()\n    print(p.name, p.package_format)', 'ros/luxcert_msgs', 'ros/luxcert_ros');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['luxcert_msgs 3', 'luxcert_ros 3']);
  });

  it('luxcert ros without ROS 2 or rclnodejs says in one line what to install, exit 1', { skip: rosReady ? 'ROS 2 and rclnodejs are present' : false }, () => {
    const env = { ...process.env };
    delete env.ROS_DISTRO;
    for (const [distro, why] of [[undefined, /ROS_DISTRO is not set/], ['humble', /optional package rclnodejs, which is not installed/]] as const) {
      const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/luxcert.js', import.meta.url)), 'ros', '--ros-args', '-p', 'bundle:=/b'], { encoding: 'utf8', env: { ...env, ...(distro ? { ROS_DISTRO: distro } : {}), LUXCERT_LOG_LEVEL: 'warn' } });
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.match(r.stderr, /docs\/ros\.md/);
    }
    assert.ok(luxcert('ros', '--help').stdout.includes('--ros-args'));
  });

  it('end to end on a live ROS 2 graph: images in, certified keypoints out with the images\' headers', { skip: rosReady ? false : 'needs a sourced ROS 2, the luxcert_msgs workspace and rclnodejs (not available on the build machines)', timeout: 120_000 }, async () => {
    const root = tmpDir('ros-e2e');
    await synthesize({ out: join(root, 'data'), count: 30, size: 48, seed: 4 });
    await trainFolder({ ...TRAIN_DEFAULTS, data: join(root, 'data'), out: join(root, 'model.onnx'), epochs: 1, batchSize: 16, augment: false, cropPadding: 1.0 });
    assert.equal(luxcert('export', '--model', join(root, 'model.onnx'), '--out', join(root, 'bundle')).code, 0);
    const node = spawn(process.execPath, [fileURLToPath(new URL('../../bin/luxcert.js', import.meta.url)), 'ros', '--ros-args', '-p', `bundle:=${join(root, 'bundle')}`, '-r', 'image:=/e2e/image', '-r', '__ns:=/e2e'], { stdio: 'inherit' });
    type RclModule = { default: { init(): Promise<void>; createNode(n: string): RclNode; shutdown(): void } };
    type RclNode = { createPublisher(t: string, topic: string): { publish(m: unknown): void }; createSubscription(t: string, topic: string, cb: (m: { header: { stamp: { sec: number; nanosec: number } }; objects: unknown[] }) => void): unknown; spin(): void; destroy(): void };
    const rcl = ((await import('rclnodejs' as string)) as RclModule).default;
    await rcl.init();
    const tester = rcl.createNode('luxcert_e2e');
    const got: { sec: number; nanosec: number }[] = [];
    tester.createSubscription('luxcert_msgs/msg/CertifiedKeypoints', '/e2e/keypoints', (m) => got.push(m.header.stamp));
    const pub = tester.createPublisher('sensor_msgs/msg/Image', '/e2e/image');
    tester.spin();
    const img = await readImage(join(root, 'data', 'images', '000000.png'));
    const sent: { sec: number; nanosec: number }[] = [];
    for (let i = 0; i < 200 && got.length < 3; i++) {
      const stamp = { sec: 1000 + i, nanosec: 123 };
      sent.push(stamp);
      pub.publish({ header: { stamp, frame_id: 'e2e_camera' }, height: img.height, width: img.width, encoding: 'rgb8', is_bigendian: 0, step: img.width * 3, data: img.data });
      await new Promise((r) => setTimeout(r, 100));
    }
    node.kill('SIGINT');
    tester.destroy();
    rcl.shutdown();
    assert.ok(got.length >= 3, `${got.length} keypoint messages`);
    for (const s of got) assert.ok(sent.some((t) => t.sec === s.sec && t.nanosec === s.nanosec), 'each message carries a published image\'s stamp');
  });
});
