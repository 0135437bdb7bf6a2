import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIAGNOSTICS_DEFAULTS, DiagnosticsAggregator, LEVEL } from '../../src/ros/diagnostics.ts';
import type { FrameRecord } from '../../src/runtime/stream.ts';

const ok = (latency: number, extent: number): FrameRecord => ({
  frame: 0, source: 's', timestamp: 0, ok: true, keypoints: [], box: { alphaLo: 1, alphaHi: 1, betaLo: 0, betaHi: 0 }, extent: [extent, extent, extent, extent], complete: extent >= 1, tolerance: 2,
  latencyMs: { preprocess: 0, inference: 0, certify: latency, total: latency },
});
const bad: FrameRecord = { frame: 0, source: 's', timestamp: 0, ok: false, error: 'x' };

/** Feeds `n` frames at `fps` ending at `end` ms. */
function feed(d: DiagnosticsAggregator, n: number, fps: number, rec: FrameRecord, end: number): void {
  for (let i = 0; i < n; i++) d.record(rec, end - (n - 1 - i) * (1000 / fps));
}
const value = (s: ReturnType<DiagnosticsAggregator['status']>, key: string) => s.values.find((v) => v.key === key)!.value;

describe('diagnostics levels', () => {
  it('OK with its figures when every threshold holds', () => {
    const d = new DiagnosticsAggregator();
    feed(d, 50, 30, ok(10, 0.8), 10_000);
    d.setDropped(3);
    const s = d.status(10_000, 'cpu');
    assert.equal(s.level, LEVEL.ok);
    assert.equal(value(s, 'frames/s'), '30.00');
    assert.equal(value(s, 'latency p99 ms'), '10.00');
    assert.equal(value(s, 'frames dropped'), '3');
    assert.equal(value(s, 'mean certified extent'), '0.800');
    assert.equal(value(s, 'provider'), 'cpu');
  });

  it('WARN for a low frame rate, a high p99 latency, or few certified frames — naming the first', () => {
    const slow = new DiagnosticsAggregator();
    feed(slow, 10, 2, ok(10, 0.8), 10_000);
    assert.equal(slow.status(10_000, 'cpu').level, LEVEL.warn);
    assert.match(slow.status(10_000, 'cpu').message, /frames\/s is below 5/);
    const laggy = new DiagnosticsAggregator();
    feed(laggy, 50, 30, ok(DIAGNOSTICS_DEFAULTS.maxP99Ms + 50, 0.8), 10_000);
    assert.match(laggy.status(10_000, 'cpu').message, /p99 latency .* above 200 ms/);
    const uncertified = new DiagnosticsAggregator();
    feed(uncertified, 50, 30, ok(10, 0), 10_000);
    assert.equal(uncertified.status(10_000, 'cpu').level, LEVEL.warn);
    assert.match(uncertified.status(10_000, 'cpu').message, /only 0 % of frames certified/);
  });

  it('STALE when frames stop, ERROR when all fail or the bundle did not load', () => {
    const d = new DiagnosticsAggregator();
    assert.equal(d.status(0, 'cpu').level, LEVEL.stale, 'no frame yet');
    feed(d, 50, 30, ok(10, 0.8), 10_000);
    assert.equal(d.status(10_000 + 2500, 'cpu').level, LEVEL.stale);
    const failing = new DiagnosticsAggregator();
    feed(failing, 20, 30, bad, 10_000);
    assert.equal(failing.status(10_000, 'cpu').level, LEVEL.error);
    d.setFatal('bundle /x: not a luxcert bundle');
    assert.deepEqual([d.status(10_000, 'cpu').level, d.status(10_000, 'cpu').message], [LEVEL.error, 'bundle /x: not a luxcert bundle']);
    d.setFatal(undefined);
    assert.equal(d.status(10_000, 'cpu').level, LEVEL.ok);
  });
});
