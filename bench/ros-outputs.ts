// What recording and the live Foxglove server cost `luxcert run`: frames/s of the same stream
// (a) plain, (b) with an MCAP recording and the live server feeding one subscribed client, and
// (c) as (b) plus a client that subscribed and then stopped reading. Rounds interleave the three so
// machine drift hits all alike; clients run in their own processes, as a viewer would.
// Usage: npm run bench:ros-outputs [-- --bundle luxcert-demo/bundle --frames luxcert-demo/frames --rounds 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantile } from '../src/core/quantile.ts';
import { loadBundle } from '../src/export/bundle.ts';
import { FoxgloveLive } from '../src/ros/foxglove-server.ts';
import { McapRecorder } from '../src/ros/mcap-recorder.ts';
import { FrameOutputs, type MessageSink } from '../src/ros/outputs.ts';
import { openSource } from '../src/runtime/frames.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { runStream } from '../src/runtime/stream.ts';

const { values } = parseArgs({ options: { bundle: { type: 'string', default: 'luxcert-demo/bundle' }, frames: { type: 'string', default: 'luxcert-demo/frames' }, rounds: { type: 'string', default: '3' } } });
if (!existsSync(values.bundle) || !existsSync(values.frames)) {
  console.error(`${values.bundle} or ${values.frames} not found: run \`npx luxcert demo\` first, or pass --bundle and --frames`);
  process.exit(1);
}
const bundle = loadBundle(values.bundle);
const runtime = await Runtime.open(bundle, { providers: ['cpu'] });
const m = bundle.manifest;
const ctx = { meta: m.meta, modelName: 'bundle', modelSha256: m.files.model.sha256, maxBox: m.maxBox, tolerance: m.tolerance, frameId: 'camera' };
const scratch = mkdtempSync(join(tmpdir(), 'luxcert-bench-ros-'));

/** A Foxglove client in its own process: subscribes to every channel, then reads (or stops reading). */
async function client(port: number, stall: boolean): Promise<ChildProcess> {
  const code = `
    import { WebSocket } from 'ws';
    const ws = new WebSocket('ws://127.0.0.1:${port}', ['foxglove.sdk.v1']);
    let n = 0;
    ws.on('message', (raw, binary) => {
      if (binary) { n++; return; }
      const msg = JSON.parse(raw.toString());
      if (msg.op !== 'advertise') return;
      ws.send(JSON.stringify({ op: 'subscribe', subscriptions: msg.channels.map((c, i) => ({ id: i, channelId: c.id })) }));
      setTimeout(() => { ${stall ? 'ws._socket.pause();' : ''} process.stdout.write('ready\\n'); }, 200);
    });`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
  return p;
}

type Mode = 'plain' | 'record + live' | 'record + live + stalled client';
const MODES: Mode[] = ['plain', 'record + live', 'record + live + stalled client'];
const fps: Record<Mode, number[]> = { plain: [], 'record + live': [], 'record + live + stalled client': [] };
const extra: Record<Mode, string> = { plain: '', 'record + live': '', 'record + live + stalled client': '' };

async function once(mode: Mode): Promise<void> {
  const sinks: MessageSink[] = [];
  const clients: ChildProcess[] = [];
  let live: FoxgloveLive | undefined;
  let recorder: McapRecorder | undefined;
  const path = join(scratch, `run-${Date.now()}.mcap`);
  if (mode !== 'plain') {
    live = await FoxgloveLive.start('127.0.0.1', 0);
    recorder = await McapRecorder.open(path);
    sinks.push(recorder, live);
    clients.push(await client(live.port, false));
    if (mode === 'record + live + stalled client') clients.push(await client(live.port, true));
  }
  const outputs = new FrameOutputs(ctx, sinks, runtime.provider);
  const stats = await runStream(runtime, openSource(values.frames), { onRecord: async (r, f, c) => (sinks.length > 0 ? outputs.frame(r, f, c.dropped) : undefined) });
  await outputs.close();
  for (const c of clients) c.kill();
  fps[mode].push(stats.fps);
  if (recorder) extra[mode] = `${recorder.messages} messages, ${(statSync(path).size / 1e6).toFixed(1)} MB recorded; ${live!.dropped} dropped for slow clients`;
}

console.log(`bench:ros-outputs — ${values.bundle} on ${values.frames}, ${values.rounds} interleaved rounds, onnxruntime CPU, Node ${process.version}`);
await once('plain');
for (let r = 0; r < Number(values.rounds); r++) for (const mode of MODES) await once(mode);
const base = quantile(fps.plain, 0.5);
for (const mode of MODES) {
  const med = quantile(fps[mode], 0.5);
  console.log(`${mode.padEnd(32)} ${med.toFixed(1).padStart(7)} frames/s (median of ${fps[mode].map((f) => f.toFixed(0)).join(', ')})  ${((med / base) * 100).toFixed(1).padStart(5)} % of plain  ${extra[mode]}`);
}
await runtime.release();
