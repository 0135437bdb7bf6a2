import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The mode a written file gets unless the caller names one (before umask). */
const FILE_MODE = 0o644;

/** Writes `data` to a new file and flushes it to the disk before it is renamed anywhere. */
function writeFlushed(path: string, data: Uint8Array | string, mode = FILE_MODE): void {
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
 * Removes what a killed writer left: entries of `dir` whose name is `<prefix><pid>-…`, for a
 * prefix `isTemp` finds in it, and whose process is gone. Only names this module makes are touched.
 */
function removeStaleTemps(dir: string, isTemp: (name: string) => boolean): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = /(\d+)-[a-z0-9]+$/.exec(e);
    if (!m || !isTemp(e.slice(0, m.index))) continue;
    const pid = Number(m[1]);
    if (pid > 0 && pid !== process.pid && !alive(pid)) rmSync(join(dir, e), { recursive: true, force: true });
  }
}

/** A file's temporary name is `<name>.tmp-<pid>-<random>`. */
const TEMP_MARK = '.tmp-';

/**
 * Folders whose stale temporary files this process has removed. A killed writer leaves them behind,
 * not a living one, so each folder is listed once per process rather than once per file written (2,400
 * scenes into one folder listed it 2,400 times, ~0.5 ms a listing by its end).
 */
const swept = new Set<string>();

/** The temporary name to write `path` under, its folder made and swept of killed writers' temporaries. */
function tempFor(path: string): string {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  if (!swept.has(dir)) {
    removeStaleTemps(dir, (prefix) => prefix.endsWith(TEMP_MARK) && prefix.length > TEMP_MARK.length);
    swept.add(dir);
  }
  return `${path}${TEMP_MARK}${tmpSuffix()}`;
}

/** Writes a file via a temporary name and a rename, so readers never see a partial file (`mode` before umask). */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): void {
  const tmp = tempFor(path);
  try {
    writeFlushed(tmp, data, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * `writeFileAtomic` whose write, flush and rename run on libuv's pool: a training epoch's files reach
 * the disk while the next epoch runs (writing them cost the demo's model 7–25 ms an epoch).
 */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | string, mode = FILE_MODE): Promise<void> {
  const tmp = tempFor(path);
  try {
    const file = await open(tmp, 'wx', mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
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
  removeStaleTemps(parent, (prefix) => prefix === `.${basename(dir)}.new-`);
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
