import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `data` to a new file and flushes it to the disk before it is renamed anywhere. */
function writeFlushed(path: string, data: Uint8Array | string, mode = 0o644): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const tmpSuffix = () => `${process.pid}-${Math.random().toString(36).slice(2)}`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes what a killed writer left: entries of `dir` named `<prefix><pid>-…` whose process is gone.
 * Only names this module makes are touched.
 */
function removeStaleTemps(dir: string, prefix: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-[a-z0-9]+$/.exec(e.slice(prefix.length))?.[1]);
    if (pid > 0 && pid !== process.pid && !alive(pid)) rmSync(join(dir, e), { recursive: true, force: true });
  }
}

/** Writes a file via a temporary name and a rename, so readers never see a partial file (`mode` before umask). */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  removeStaleTemps(dirname(path), `${basename(path)}.tmp-`);
  const tmp = `${path}.tmp-${tmpSuffix()}`;
  try {
    writeFlushed(tmp, data, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Where an interrupted `replaceDirAtomic` leaves the folder it was replacing. */
export const previousDirName = (dir: string) => join(dirname(dir), `.${basename(dir)}.previous`);

/**
 * Makes `dir` hold exactly `files`, replacing any folder there as a whole: the new folder is
 * written and flushed beside it, the old one is moved aside, the new one renamed in, and only
 * then the old one removed. Every interruption leaves the old folder complete — at `dir`, or
 * between the two renames at `previousDirName(dir)` — or the new one complete at `dir`.
 * Temporary folders of killed earlier runs are removed first. The caller decides beforehand
 * whether the old folder may be replaced.
 */
export function replaceDirAtomic(dir: string, files: Record<string, Uint8Array | string>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  removeStaleTemps(parent, `.${basename(dir)}.new-`);
  const tmp = join(parent, `.${basename(dir)}.new-${tmpSuffix()}`);
  const old = previousDirName(dir);
  mkdirSync(tmp);
  try {
    for (const [name, data] of Object.entries(files)) writeFlushed(join(tmp, name), data);
    if (existsSync(old)) rmSync(old, { recursive: true });
    if (existsSync(dir)) renameSync(dir, old);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (existsSync(old)) renameSync(old, dir);
      throw e;
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
