import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One reading of the machine's load, memory, temperatures and power. */
export interface SystemSample {
  /** Wall-clock time of the reading, ms since the epoch. */
  at: number;
  source: 'tegrastats' | 'proc';
  /** Mean load of the online CPU cores, %. */
  cpuPercent?: number;
  ramUsedMB?: number;
  ramTotalMB?: number;
  /** GPU (GR3D) load, % (tegrastats only). */
  gpuPercent?: number;
  /** Temperatures by sensor name, °C. */
  temperatures: Record<string, number>;
  /** Instantaneous power by rail, mW (tegrastats only). */
  powerMw: Record<string, number>;
}

/**
 * Parses one line of NVIDIA's `tegrastats`, in the formats of JetPack 4 to 6: `RAM u/tMB`,
 * `CPU [x%@f,…,off]`, `GR3D_FREQ x%…`, temperatures `NAME@t.tC` (upper or lower case), and power
 * rails either `NAME cur mW/avg mW` (JetPack 5–6) or `NAME cur/avg` (JetPack 4).
 */
export function parseTegrastats(line: string, at = Date.now()): SystemSample {
  const s: SystemSample = { at, source: 'tegrastats', temperatures: {}, powerMw: {} };
  const ram = /\bRAM (\d+)\/(\d+)MB/.exec(line);
  if (ram) [s.ramUsedMB, s.ramTotalMB] = [Number(ram[1]), Number(ram[2])];
  const cpu = /\bCPU \[([^\]]*)\]/.exec(line);
  if (cpu) {
    const loads = cpu[1]!.split(',').map((c) => /^\s*(\d+)%/.exec(c)).filter((m) => m !== null).map((m) => Number(m[1]));
    if (loads.length > 0) s.cpuPercent = loads.reduce((a, b) => a + b, 0) / loads.length;
  }
  const gpu = /\bGR3D_FREQ (\d+)%/.exec(line);
  if (gpu) s.gpuPercent = Number(gpu[1]);
  for (const m of line.matchAll(/\b([A-Za-z][\w]*)@(-?\d+(?:\.\d+)?)C\b/g)) s.temperatures[m[1]!] = Number(m[2]);
  for (const m of line.matchAll(/\b([A-Z][A-Z0-9_]*) (\d+)(?:mW)?\/(\d+)(?:mW)?(?=\s|$)/g)) s.powerMw[m[1]!] = Number(m[2]);
  return s;
}

type CpuTimes = { idle: number; total: number };

function cpuTimes(): CpuTimes | undefined {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  if (first.length < 4) return undefined;
  return { idle: first[3]! + (first[4] ?? 0), total: first.reduce((a, b) => a + b, 0) };
}

/** A reading from /proc and /sys (any Linux machine): CPU load since `prev`, memory, thermal zones. */
export function procSample(prev: CpuTimes | undefined, at = Date.now()): { sample: SystemSample; times: CpuTimes | undefined } {
  const s: SystemSample = { at, source: 'proc', temperatures: {}, powerMw: {} };
  const times = existsSync('/proc/stat') ? cpuTimes() : undefined;
  if (times && prev && times.total > prev.total) s.cpuPercent = 100 * (1 - (times.idle - prev.idle) / (times.total - prev.total));
  if (existsSync('/proc/meminfo')) {
    const mem = Object.fromEntries(readFileSync('/proc/meminfo', 'utf8').split('\n').map((l) => /^(\w+):\s+(\d+) kB/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, Number(m[2]) / 1024]));
    if (mem.MemTotal !== undefined && mem.MemAvailable !== undefined) [s.ramTotalMB, s.ramUsedMB] = [Math.round(mem.MemTotal), Math.round(mem.MemTotal - mem.MemAvailable)];
  }
  const zones = '/sys/class/thermal';
  if (existsSync(zones)) {
    for (const z of readdirSync(zones).filter((d) => d.startsWith('thermal_zone'))) {
      try {
        const type = readFileSync(join(zones, z, 'type'), 'utf8').trim();
        const t = Number(readFileSync(join(zones, z, 'temp'), 'utf8').trim()) / 1000;
        if (Number.isFinite(t)) s.temperatures[type || z] = t;
      } catch {
        // A zone that cannot be read (permissions, a sensor that is off) is left out.
      }
    }
  }
  return { sample: s, times };
}

/** Samples the machine every `intervalMs`: through `tegrastats` on a Jetson, else /proc and /sys. */
export class SystemMonitor {
  private timer: NodeJS.Timeout | undefined;
  private child: ChildProcess | undefined;
  latest: SystemSample | undefined;

  private constructor() {}

  /** Starts sampling; `tegrastats` is the path of NVIDIA's tool, used when it exists. */
  static start(intervalMs = 1000, tegrastats = '/usr/bin/tegrastats'): SystemMonitor {
    const m = new SystemMonitor();
    if (existsSync(tegrastats)) {
      m.child = spawn(tegrastats, ['--interval', String(intervalMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      m.child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) if (l.trim()) m.latest = parseTegrastats(l);
      });
    } else {
      let times: CpuTimes | undefined;
      const tick = () => {
        const r = procSample(times);
        times = r.times;
        m.latest = r.sample;
      };
      tick();
      m.timer = setInterval(tick, intervalMs);
      m.timer.unref();
    }
    return m;
  }

  /** Stops sampling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.child?.kill();
  }
}
