import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/luxcert.js', import.meta.url));

/** Runs the real `luxcert` executable and returns its exit code and output. */
export function luxcert(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, LUXCERT_LOG_LEVEL: 'warn' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
