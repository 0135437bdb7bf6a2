import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTegrastats, procSample, SystemMonitor } from '../../src/runtime/system-stats.ts';

// Lines in the formats of each JetPack generation (written after NVIDIA's tegrastats documentation and
// the formats jetson_stats parses; not captured on our own devices — none is reachable).
const LINES = {
  'Orin AGX, JetPack 6': '12-02-2026 10:00:00 RAM 3145/62841MB (lfb 2x4MB) SWAP 0/31420MB (cached 0MB) CPU [2%@729,1%@729,0%@729,1%@729,off,off,off,off,3%@1574,0%@1574,0%@1574,0%@1574] EMC_FREQ 0%@2133 GR3D_FREQ 7%@[305,305] VIC_FREQ 729 APE 174 cpu@48.843C soc2@46.656C soc0@47.093C cv1@46.718C gpu@46.125C tj@48.843C soc1@46.625C cv2@46.281C VDD_GPU_SOC 2400mW/2400mW VDD_CPU_CV 800mW/800mW VIN_SYS_5V0 3520mW/3520mW',
  'Orin Nano, JetPack 6': 'RAM 2847/7620MB (lfb 2x4MB) SWAP 0/3810MB (cached 0MB) CPU [12%@1510,5%@1510,8%@1510,4%@1510,3%@1510,3%@1510] EMC_FREQ 0%@2133 GR3D_FREQ 35%@[624] NVDEC_FREQ 0%@0 VIC_FREQ 0%@115 APE 200 cpu@51.5C soc2@49.2C soc0@50.1C gpu@50.0C tj@51.5C soc1@49.8C VDD_IN 6120mW/5980mW VDD_CPU_GPU_CV 1640mW/1520mW VDD_SOC 1860mW/1840mW',
  'Orin NX, JetPack 5': 'RAM 4211/15656MB (lfb 3x4MB) SWAP 0/7828MB (cached 0MB) CPU [20%@1984,18%@1984,15%@1984,22%@1984,off,off,off,off] EMC_FREQ 6%@3199 GR3D_FREQ 54%@[918,918] VIC_FREQ 729 APE 174 CPU@52.5C SOC2@49.156C SOC0@50.5C CV1@48.75C GPU@50.375C tj@52.5C SOC1@49.343C CV2@48.25C VDD_IN 11604mW/11280mW VDD_CPU_GPU_CV 5440mW/5120mW VDD_SOC 2760mW/2720mW',
  'Xavier NX, JetPack 4': 'RAM 2436/7772MB (lfb 822x4MB) SWAP 0/3886MB (cached 0MB) CPU [8%@1190,3%@1190,2%@1190,4%@1190,off,off] EMC_FREQ 0% GR3D_FREQ 0% AO@36C GPU@35.5C PMIC@100C AUX@35C CPU@37C thermal@36.05C VDD_IN 4294/4294 VDD_CPU_GPU_CV 490/490 VDD_SOC 1226/1226',
  'Nano, JetPack 4': 'RAM 2010/3956MB (lfb 82x4MB) SWAP 0/1978MB (cached 0MB) IRAM 0/252kB(lfb 252kB) CPU [9%@1479,5%@1479,3%@1479,3%@1479] EMC_FREQ 0%@1600 GR3D_FREQ 0%@921 APE 25 PLL@33C CPU@35.5C PMIC@100C GPU@34C AO@41.5C thermal@34.75C POM_5V_IN 2162/2162 POM_5V_GPU 0/0 POM_5V_CPU 324/324',
};

describe('machine statistics', () => {
  it('parses tegrastats lines of Orin (JetPack 5–6), Xavier and Nano (JetPack 4)', () => {
    const expect = {
      'Orin AGX, JetPack 6': { ram: [3145, 62841], cpu: 7 / 8, gpu: 7, temp: ['tj', 48.843], power: ['VIN_SYS_5V0', 3520], rails: 3 },
      'Orin Nano, JetPack 6': { ram: [2847, 7620], cpu: 35 / 6, gpu: 35, temp: ['gpu', 50], power: ['VDD_IN', 6120], rails: 3 },
      'Orin NX, JetPack 5': { ram: [4211, 15656], cpu: 18.75, gpu: 54, temp: ['GPU', 50.375], power: ['VDD_CPU_GPU_CV', 5440], rails: 3 },
      'Xavier NX, JetPack 4': { ram: [2436, 7772], cpu: 4.25, gpu: 0, temp: ['thermal', 36.05], power: ['VDD_IN', 4294], rails: 3 },
      'Nano, JetPack 4': { ram: [2010, 3956], cpu: 5, gpu: 0, temp: ['PMIC', 100], power: ['POM_5V_CPU', 324], rails: 3 },
    } as const;
    for (const [model, line] of Object.entries(LINES)) {
      const s = parseTegrastats(line, 5);
      const e = expect[model as keyof typeof expect];
      assert.deepEqual([s.ramUsedMB, s.ramTotalMB], e.ram, model);
      assert.ok(Math.abs(s.cpuPercent! - e.cpu) < 1e-9, `${model}: cpu ${s.cpuPercent}`);
      assert.equal(s.gpuPercent, e.gpu, model);
      assert.equal(s.temperatures[e.temp[0]], e.temp[1], model);
      assert.equal(s.powerMw[e.power[0]], e.power[1], model);
      assert.equal(Object.keys(s.powerMw).length, e.rails, `${model}: rails ${Object.keys(s.powerMw)} (RAM, SWAP and IRAM are not rails)`);
      assert.equal(s.source, 'tegrastats');
    }
  });

  it('reads /proc and /sys where there is no tegrastats', async () => {
    const first = procSample(undefined);
    assert.ok(first.sample.ramTotalMB! > 0 && first.sample.ramUsedMB! > 0);
    // /proc/stat counts in clock ticks (10 ms): wait a few.
    await new Promise((r) => setTimeout(r, 60));
    const second = procSample(first.times);
    assert.ok(second.sample.cpuPercent! >= 0 && second.sample.cpuPercent! <= 100, `cpu ${second.sample.cpuPercent}`);
    const monitor = SystemMonitor.start(50, '/nonexistent/tegrastats');
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(monitor.latest?.source, 'proc');
    monitor.stop();
  });
});
