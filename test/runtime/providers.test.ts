import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDeviceId, checkWorkspaceMb, keepGpuAtFloat32, parseProviders, providerInstalled, sessionProviders } from '../../src/runtime/providers.ts';
import { luxcert } from '../helpers/cli.ts';

describe('execution providers', () => {
  it('known names only, refused in one line; the device id reaches the GPU providers only', () => {
    assert.deepEqual(parseProviders(['tensorrt', 'cuda', 'cpu']), ['tensorrt', 'cuda', 'cpu']);
    assert.throws(() => parseProviders(['cuda', 'gpu', 'CPU']), /^LuxcertError: --providers: unknown execution provider 'gpu', 'CPU' \(known: tensorrt, cuda, cpu\)$/);
    assert.throws(() => parseProviders([]), /name at least one execution provider/);
    assert.throws(() => checkDeviceId(-1), /--gpu-device must be an integer in \[0, 63\], got -1/);
    assert.throws(() => checkDeviceId(0.5), /got 0\.5/);
    assert.deepEqual(sessionProviders('cpu', { deviceId: 1 }), ['cpu']);
    assert.deepEqual(sessionProviders('cuda', { deviceId: 1 }), [{ name: 'cuda', deviceId: 1 }, 'cpu'], 'the CPU takes the operators the GPU provider lacks');
    const trtOff = { trt_fp16_enable: '0', trt_int8_enable: '0' };
    assert.deepEqual(sessionProviders('tensorrt'), [{ name: 'tensorrt', trtOptions: trtOff }, 'cpu'], 'FP16 and INT8 are always sent as off');
    assert.deepEqual(sessionProviders('tensorrt', { deviceId: 0, trtCacheDir: '/var/lib/luxcert/trt', trtWorkspaceMb: 512 }), [
      { name: 'tensorrt', deviceId: 0, trtOptions: { ...trtOff, trt_engine_cache_enable: '1', trt_engine_cache_path: '/var/lib/luxcert/trt', trt_timing_cache_enable: '1', trt_timing_cache_path: '/var/lib/luxcert/trt', trt_max_workspace_size: String(512 * 2 ** 20) } },
      'cpu',
    ]);
    assert.deepEqual(sessionProviders('cuda', { deviceId: 2, trtCacheDir: '/x' }), [{ name: 'cuda', deviceId: 2 }, 'cpu'], 'TensorRT options stay with TensorRT');
    assert.throws(() => checkWorkspaceMb(0), /--trt-workspace-mb must be an integer number of MiB in \[1, 65536\], got 0/);
    assert.equal(providerInstalled('cpu'), true);
  });

  it('a GPU session starts with TF32 off unless the user set NVIDIA_TF32_OVERRIDE', () => {
    const before = process.env.NVIDIA_TF32_OVERRIDE;
    try {
      delete process.env.NVIDIA_TF32_OVERRIDE;
      keepGpuAtFloat32();
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, '0');
      process.env.NVIDIA_TF32_OVERRIDE = '1';
      keepGpuAtFloat32();
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, '1', 'an explicit choice is kept (and logged)');
    } finally {
      if (before === undefined) delete process.env.NVIDIA_TF32_OVERRIDE;
      else process.env.NVIDIA_TF32_OVERRIDE = before;
    }
  });

  it('luxcert run refuses an unknown provider or device before loading anything', () => {
    let r = luxcert('run', '--bundle', '/nonexistent', '--input', '/nonexistent', '--providers', 'cuda,gpu');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--providers: unknown execution provider 'gpu'/);
    r = luxcert('run', '--bundle', '/nonexistent', '--input', '/nonexistent', '--gpu-device', 'x');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--gpu-device must be an integer ≥ 0, got 'x'/);
    // A pool of a million threads never finished starting.
    r = luxcert('run', '--bundle', '/nonexistent', '--input', '/nonexistent', '--threads', '1000000');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--threads must be at most 64, got '1000000'/);
  });
});
