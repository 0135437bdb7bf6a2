import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The luxcert executable the tests run. */
export const BIN = fileURLToPath(new URL('../../bin/luxcert.js', import.meta.url));

/** Runs the real `luxcert` executable and returns its exit code (-1 for a signal, named at the end of stderr) and output. */
export function luxcert(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LUXCERT_LOG_LEVEL: 'warn' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.signal ? `${r.stderr}[killed by ${r.signal}]` : r.stderr };
}
