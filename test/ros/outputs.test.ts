import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { McapIndexedReader } from '@mcap/core';
import { WebSocket } from 'ws';
import { Rng } from '../../src/core/random.ts';
import { readImage } from '../../src/data/image.ts';
import { synthesize } from '../../src/data/synth.ts';
import { loadBundle } from '../../src/export/bundle.ts';
import { FoxgloveLive, FOXGLOVE_SUBPROTOCOLS, parseListenAddress } from '../../src/ros/foxglove-server.ts';
import { MessageEncoder } from '../../src/ros/encoder.ts';
import { interfaceSchema, messageSchema, MESSAGE_TYPES } from '../../src/ros/interfaces.ts';
import { McapRecorder } from '../../src/ros/mcap-recorder.ts';
import { stampOf, VERDICT } from '../../src/ros/messages.ts';
import { FrameOutputs, OUTPUT_CHANNELS } from '../../src/ros/outputs.ts';
import { openSource, type Frame } from '../../src/runtime/frames.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import type { FrameRecord } from '../../src/runtime/stream.ts';
import { trainFolder, TRAIN_DEFAULTS } from '../../src/train/train-folder.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { readMcap } from '../../src/ros/mcap-reader.ts';

const root = tmpDir('ros-outputs');
const data = join(root, 'data');
const frames = join(root, 'frames');
const bundle = join(root, 'bundle');
const MSG_DIR = new URL('../../ros/luxcert_msgs/msg/', import.meta.url);

/** A minimal Foxglove WebSocket client: channels from `advertise`, binary MessageData decoded by subscription. */
class Client {
  readonly channels = new Map<number, { topic: string; schema: string; schemaName: string }>();
  readonly received: { channel: number; time: bigint; data: Uint8Array }[] = [];
  private readonly subs = new Map<number, number>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const m = JSON.parse(raw.toString()) as { op: string; channels?: { id: number; topic: string; schema: string; schemaName: string }[] };
        if (m.op === 'advertise') for (const c of m.channels!) this.channels.set(c.id, c);
        return;
      }
      if (raw[0] !== 1) return;
      this.received.push({ channel: this.subs.get(raw.readUInt32LE(1))!, time: raw.readBigUInt64LE(5), data: new Uint8Array(raw.subarray(13)) });
    });
  }
  static async connect(port: number, protocol: string): Promise<Client> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, [protocol]);
    const c = new Client(ws);
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    assert.equal(ws.protocol, protocol);
    for (let i = 0; i < 100 && c.channels.size < Object.keys(OUTPUT_CHANNELS).length; i++) await new Promise((r) => setTimeout(r, 10));
    const subscriptions = [...c.channels.keys()].map((channelId, id) => (c.subs.set(id, channelId), { id, channelId }));
    ws.send(JSON.stringify({ op: 'subscribe', subscriptions }));
    await new Promise((r) => setTimeout(r, 150));
    return c;
  }
  /** Decoded messages of one topic. */
  messages(topic: string): { time: bigint; message: Record<string, any> }[] {
    const entry = [...this.channels].find(([, c]) => c.topic === topic)!;
    const reader = new MessageReader(parse(entry[1].schema, { ros2: true }));
    return this.received.filter((m) => m.channel === entry[0]).map((m) => ({ time: m.time, message: reader.readMessage(m.data) as Record<string, any> }));
  }
}

/** Runs the bundle over the frame folder in-process, handing each result to `outputs`. */
async function stream(outputs: FrameOutputs, repeat = 1): Promise<FrameRecord[]> {
  const runtime = await Runtime.open(loadBundle(bundle), { providers: ['cpu'] });
  const records: FrameRecord[] = [];
  for (let r = 0; r < repeat; r++) {
    for await (const f of openSource(frames) as AsyncIterable<Frame>) {
      const res = await runtime.processFrame(f.image!);
      const rec: FrameRecord = { frame: records.length, source: f.source, timestamp: 1_700_000_000_000 + records.length * 33.3, ok: true, ...res };
      records.push(rec);
      await outputs.frame(rec, f);
    }
  }
  await runtime.release();
  return records;
}

describe('MCAP recording and the live Foxglove server', () => {
  before(async () => {
    await synthesize({ out: data, count: 40, size: 48, seed: 8 });
    await trainFolder({ ...TRAIN_DEFAULTS, data, out: join(root, 'model.onnx'), epochs: 2, batchSize: 16, augment: false, cropPadding: 1.0 });
    mkdirSync(frames);
    for (const f of readdirSync(join(data, 'images')).slice(0, 20)) copyFileSync(join(data, 'images', f), join(frames, f));
    assert.equal(luxcert('export', '--model', join(root, 'model.onnx'), '--out', bundle, '--brightness', '0.05', '--contrast', '0.05').code, 0);
  });

  it('every luxcert_msgs .msg file and every schema luxcert writes parses as ROS 2 (@foxglove/rosmsg)', () => {
    const files = readdirSync(MSG_DIR).filter((f) => f.endsWith('.msg'));
    assert.deepEqual(files.sort(), ['CertifiedKeypoint.msg', 'CertifiedKeypoints.msg', 'CertifiedObject.msg', 'PerturbationBox.msg']);
    for (const f of files) {
      const s = interfaceSchema(`luxcert_msgs/msg/${f.replace('.msg', '')}`);
      assert.ok(s.text.startsWith(readFileSync(new URL(f, MSG_DIR), 'utf8').trimEnd()), f);
      assert.ok(s.definitions[0]!.definitions.length > 0, f);
    }
    const kp = parse(readFileSync(new URL('CertifiedKeypoint.msg', MSG_DIR), 'utf8'), { ros2: true })[0]!;
    assert.deepEqual(kp.definitions.filter((d) => d.isConstant).map((d) => [d.name, d.value]), [['VERDICT_UNKNOWN', 0], ['VERDICT_CERTIFIED', 1], ['VERDICT_FALSIFIED', 2]]);
    assert.deepEqual(VERDICT, { unknown: 0, certified: 1, falsified: 2 });
    for (const t of MESSAGE_TYPES) {
      const s = messageSchema(t);
      assert.ok(s.definitions.length > 1, t);
      for (const block of s.text.split(`${'='.repeat(80)}\n`).slice(1)) assert.match(block, /^MSG: [a-z_]+\/[A-Z]\w+\n/);
    }
  });

  it('run --record writes an MCAP that decodes, from its own schemas, into exactly the keypoints, boxes and stamps of the JSON output', async () => {
    const rec = join(root, 'run.mcap');
    const out = join(root, 'run.jsonl');
    const r = luxcert('run', '--bundle', bundle, '--input', frames, '--out', out, '--record', rec, '--frame-id', 'pad_camera', '--json');
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FrameRecord);
    const msgs = await readMcap(new Uint8Array(readFileSync(rec)));
    assert.equal(msgs.error, undefined);
    assert.equal(msgs.header?.profile, 'ros2');
    const by = (topic: string) => msgs.filter((m) => m.topic === topic);
    const kps = by('/luxcert/keypoints');
    assert.equal(kps.length, lines.length);
    assert.equal(by('/luxcert/annotations').length, lines.length);
    const images = by('/luxcert/image/compressed');
    assert.equal(images.length, lines.length);
    assert.ok(by('/diagnostics').length >= 1);
    const system = by('/luxcert/system');
    assert.ok(system.length >= 1, 'machine readings are recorded');
    assert.ok((system[0]!.message.status[0].values as { key: string }[]).some((v) => v.key === 'cpu %'));
    const manifest = loadBundle(bundle).manifest;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const m = kps[i]!.message;
      assert.ok(line.ok);
      if (!line.ok) continue;
      assert.equal(kps[i]!.schema, 'luxcert_msgs/msg/CertifiedKeypoints');
      assert.deepEqual(m.header.stamp, stampOf(line.timestamp));
      assert.equal(m.header.frame_id, 'pad_camera');
      assert.equal(kps[i]!.logTime, BigInt(m.header.stamp.sec) * 1_000_000_000n + BigInt(m.header.stamp.nanosec));
      assert.equal(m.model_sha256, manifest.files.model.sha256);
      assert.equal(m.tolerance_input_px, line.tolerance);
      const o = m.objects[0];
      assert.deepEqual([o.certified_box.contrast_min, o.certified_box.contrast_max, o.certified_box.brightness_min, o.certified_box.brightness_max], [line.box.alphaLo, line.box.alphaHi, line.box.betaLo, line.box.betaHi]);
      assert.deepEqual(Array.from(o.extent as Float32Array), Array.from(Float32Array.from(line.extent)));
      assert.equal(o.complete, line.complete);
      const img = await readImage(line.source);
      const side = Math.min(img.width, img.height);
      const scale = side / manifest.meta.inputSize[1];
      assert.equal(o.tolerance_px, line.tolerance * scale);
      line.keypoints.forEach((k, j) => {
        const p = o.keypoints[j];
        assert.equal(p.name, k.name);
        assert.equal(p.verdict, VERDICT.certified);
        assert.ok(Math.abs(p.x - ((img.width - side) / 2 + k.x * scale)) < 1e-9 && Math.abs(p.y - ((img.height - side) / 2 + k.y * scale)) < 1e-9, `frame ${i} keypoint ${j}`);
      });
      assert.equal(images[i]!.message.format, 'png');
      assert.deepEqual(Buffer.from(images[i]!.message.data as Uint8Array), readFileSync(line.source));
    }
  });

  it('the recording carries the machine\'s readings, and luxcert report turns it into an HTML report with its plots', () => {
    const rec = join(root, 'run.mcap');
    const html = join(root, 'field.html');
    const r = luxcert('report', rec, '--out', html, '--json');
    assert.equal(r.code, 0, r.stderr);
    const page = readFileSync(html, 'utf8');
    // 20 frames last under a second: frame rate and load may have no whole window; latency and the box always plot.
    assert.ok((page.match(/<svg/g) ?? []).length >= 2, 'latency and the certified box are plotted');
    for (const title of ['Frames per second', 'Latency per frame', 'Certified box', 'Frames dropped', 'CPU and GPU load', 'Temperatures', 'Power rails']) assert.ok(page.includes(title), title);
    assert.match(page, /Power rails<\/b>: no power rail recorded/, 'a plot without data says why');
    const frames = readFileSync(join(root, 'run.jsonl'), 'utf8').trim().split('\n').length;
    assert.match(page, new RegExp(`<td>frames</td><td>${frames} \\(0 without a result\\)`));
    assert.match(page, /<td>mean certified extent<\/td><td>\d+\.\d % of the maximum box/);
    assert.equal(luxcert('report', rec, '--out', rec).code, 1, 'never writes over its input');
  });

  it('a recording cut at any byte still yields every message of every complete chunk', async () => {
    const path = join(root, 'chunked.mcap');
    const rec = await McapRecorder.open(path, 4096);
    const enc = new MessageEncoder();
    const rng = new Rng(3);
    const n = 400;
    for (let i = 0; i < n; i++) {
      const msg = { header: { stamp: stampOf(i * 10), frame_id: 'c' }, status: [{ level: 0, name: `s${i}`, message: 'x'.repeat(Math.floor(rng.uniform(10, 200))), hardware_id: 'h', values: [] }] };
      await rec.write({ channel: 'diagnostics', timeNs: BigInt(i) * 10_000_000n, data: enc.encode('diagnostic_msgs/msg/DiagnosticArray', msg) });
    }
    await rec.close();
    const bytes = new Uint8Array(readFileSync(path));
    const full = await readMcap(bytes, { includeChunks: true });
    assert.equal(full.length, n);
    assert.ok(full.chunks.length >= 8, `${full.chunks.length} chunks`);
    const indexed = await McapIndexedReader.Initialize({ readable: { size: async () => BigInt(bytes.length), read: async (o, s) => bytes.subarray(Number(o), Number(o + s)) } });
    const ends = [...indexed.chunkIndexes].sort((a, b) => Number(a.chunkStartOffset - b.chunkStartOffset)).map((c) => Number(c.chunkStartOffset + c.chunkLength));
    assert.equal(ends.length, full.chunks.length);
    for (let t = 0; t < 25; t++) {
      const cut = Math.floor(rng.uniform(0, bytes.length));
      const part = await readMcap(bytes.subarray(0, cut));
      const expected = ends.reduce((a, end, i) => a + (end <= cut ? full.chunks[i]! : 0), 0);
      assert.equal(part.length, expected, `cut at ${cut} of ${bytes.length}`);
      part.forEach((m, i) => assert.equal(m.message.status[0].name, `s${i}`));
    }
  });

  it('the live server delivers every frame to loopback clients of both sub-protocols, the same messages as the recording', async () => {
    const live = await FoxgloveLive.start('127.0.0.1', 0);
    const clients = await Promise.all(FOXGLOVE_SUBPROTOCOLS.map((p) => Client.connect(live.port, p)));
    const manifest = loadBundle(bundle).manifest;
    const recording = join(root, 'live.mcap');
    const recorder = await McapRecorder.open(recording);
    const outputs = new FrameOutputs({ meta: manifest.meta, modelName: 'bundle', modelSha256: manifest.files.model.sha256, maxBox: manifest.maxBox, tolerance: manifest.tolerance, frameId: 'cam' }, [live, recorder], 'cpu');
    const records = await stream(outputs);
    const complete = (c: Client) => ['/luxcert/keypoints', '/luxcert/annotations', '/luxcert/image/compressed'].every((t) => c.messages(t).length === records.length);
    for (let i = 0; i < 200 && !clients.every(complete); i++) await new Promise((r) => setTimeout(r, 20));
    for (const c of clients) {
      const kps = c.messages('/luxcert/keypoints');
      assert.equal(kps.length, records.length);
      kps.forEach(({ time, message }, i) => {
        const r = records[i]!;
        assert.ok(r.ok);
        if (!r.ok) return;
        assert.deepEqual(message.header.stamp, stampOf(r.timestamp));
        assert.equal(time, BigInt(message.header.stamp.sec) * 1_000_000_000n + BigInt(message.header.stamp.nanosec));
        assert.equal(message.objects[0].certified_box.contrast_min, r.box.alphaLo);
        assert.equal(message.objects[0].keypoints.length, r.keypoints.length);
      });
      assert.equal(c.messages('/luxcert/image/compressed').length, records.length);
    }
    await outputs.close();
    const recorded = await readMcap(new Uint8Array(readFileSync(recording)));
    for (const topic of ['/luxcert/keypoints', '/luxcert/annotations', '/luxcert/image/compressed']) {
      const fromFile = recorded.filter((m) => m.topic === topic).map((m) => m.message);
      for (const c of clients) assert.deepEqual(c.messages(topic).map((m) => m.message), fromFile, topic);
    }
    for (const c of clients) c.ws.close();
  });

  it('a stalled client loses messages, a vanished one is forgotten, and neither holds up the sender or the healthy client', async () => {
    const live = await FoxgloveLive.start('127.0.0.1', 0, 1 << 20);
    const healthy = await Client.connect(live.port, 'foxglove.sdk.v1');
    const stalled = await Client.connect(live.port, 'foxglove.websocket.v1');
    const leaving = await Client.connect(live.port, 'foxglove.websocket.v1');
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    leaving.ws.terminate();
    // 64 MiB in 128 messages: far more than the kernel's socket buffers hold for the stalled client.
    const n = 128;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      live.write({ channel: 'image', timeNs: BigInt(i), data: new Uint8Array(512 * 1024).fill(i) });
      await new Promise((r) => setImmediate(r));
    }
    const sendMs = performance.now() - t0;
    for (let i = 0; i < 500 && healthy.received.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(healthy.received.length, n, 'the healthy client got every message');
    healthy.received.forEach((m, i) => assert.equal(m.data[0], i % 256));
    assert.ok(live.dropped > 0 && live.dropped < n, `the stalled client had ${live.dropped} of ${n} messages dropped`);
    assert.equal(live.clients, 2, 'the vanished client is gone');
    assert.ok(sendMs < 10_000, `sending took ${sendMs.toFixed(0)} ms`);
    healthy.ws.close();
    stalled.ws.terminate();
    await live.close();
  });

  it('--foxglove takes [HOST:]PORT and defaults to the loopback address', () => {
    assert.deepEqual(parseListenAddress('8765'), { host: '127.0.0.1', port: 8765 });
    assert.deepEqual(parseListenAddress('0.0.0.0:9000'), { host: '0.0.0.0', port: 9000 });
    assert.deepEqual(parseListenAddress('[::1]:9000'), { host: '::1', port: 9000 });
    for (const bad of ['', 'x', '70000', 'host:']) assert.throws(() => parseListenAddress(bad), /--foxglove must be \[HOST:\]PORT/);
  });
});
