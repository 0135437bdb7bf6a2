import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LuxcertError } from './errors.ts';

function kind(path: string): 'file' | 'dir' | 'other' | 'none' {
  try {
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'none';
  }
}

/** The closest existing folder that would hold `path`; refused when it is not writable. */
function checkWritableParent(path: string, flag: string): void {
  let dir = dirname(resolve(path));
  while (kind(dir) === 'none' && dirname(dir) !== dir) dir = dirname(dir);
  if (kind(dir) !== 'dir') throw new LuxcertError(`${flag} ${path}: ${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new LuxcertError(`${flag} ${path}: ${dir} is not writable`);
  }
}

/** Refuses an output that is one of the command's own inputs. */
function checkNotInput(path: string, flag: string, inputs: readonly string[]): void {
  const p = resolve(path);
  const hit = inputs.find((i) => resolve(i) === p);
  if (hit !== undefined) throw new LuxcertError(`${flag} ${path} is also this command's input: luxcert never writes over its input`);
}

/**
 * Checks an output file path before any work starts: not a folder or device, in a writable place,
 * and not one of the command's inputs.
 */
export function checkOutputFile(path: string, flag: string, inputs: readonly string[] = []): void {
  checkNotInput(path, flag, inputs);
  const k = kind(path);
  if (k === 'dir') throw new LuxcertError(`${flag} ${path} is a folder; give a file path`);
  if (k === 'other') throw new LuxcertError(`${flag} ${path} is not a regular file`);
  checkWritableParent(path, flag);
}

/** Checks an output folder path before any work starts: not a file, in a writable place, not an input. */
export function checkOutputDir(path: string, flag: string, inputs: readonly string[] = []): void {
  checkNotInput(path, flag, inputs);
  const k = kind(path);
  if (k === 'file' || k === 'other') throw new LuxcertError(`${flag} ${path} is a file; give a folder`);
  if (k === 'dir') {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new LuxcertError(`${flag} ${path} is not writable`);
    }
  } else checkWritableParent(path, flag);
}
