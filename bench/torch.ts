import { spawnSync } from 'node:child_process';

/** A python3 that imports torch (Debian's is /usr/bin/python3; a pyenv shim on PATH may lack it), or undefined. */
export function findTorch(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}
