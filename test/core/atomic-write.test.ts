import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { replaceDirAtomic, writeFileAtomic, writeFileAtomicAsync } from '../../src/core/atomic-write.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('atomic writes', () => {
  it('remove what killed writers left in the folder, once, and nothing else', () => {
    const dir = tmpDir('atomic-sweep');
    const dead = deadPid();
    const left = [`a.png.tmp-${dead}-k3j2`, `b.json.tmp-${dead}-0x9z`];
    const kept = [`c.png.tmp-${process.pid}-abc`, `d.png.tmp-1-abc`, 'notes.tmp-keep', `.tmp-${dead}-abc`, `plain-${dead}-abc`];
    for (const f of [...left, ...kept]) writeFileSync(join(dir, f), 'x');
    writeFileAtomic(join(dir, 'e.png'), 'new');
    // pid 1 is alive; the writer's own temporaries are its own business; other names are the user's.
    assert.deepEqual(readdirSync(dir).sort(), [...kept, 'e.png'].sort());
    assert.equal(readFileSync(join(dir, 'e.png'), 'utf8'), 'new');
    // Listed once per process: a temporary that appears later is this run's concern no more.
    writeFileSync(join(dir, left[0]!), 'x');
    writeFileAtomic(join(dir, 'f.png'), 'new');
    assert.ok(readdirSync(dir).includes(left[0]!));
  });

  it('asynchronously: replace a file whole, and on a failed rename keep what was there and leave no temporary', async () => {
    const dir = tmpDir('atomic-async');
    const file = join(dir, 'model.onnx');
    writeFileSync(file, 'old');
    await writeFileAtomicAsync(file, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(file)], [1, 2, 3]);
    assert.equal(statSync(file).mode & 0o777, 0o644 & ~process.umask());
    // A folder where the file would go: the rename fails, the folder and its content stay.
    const blocked = join(dir, 'ckpt.onnx');
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'inside'), 'user');
    await assert.rejects(writeFileAtomicAsync(blocked, 'new'), (e: NodeJS.ErrnoException) => e.code !== undefined && String(e.message).includes(blocked));
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt.onnx', 'model.onnx']);
    assert.equal(readFileSync(join(blocked, 'inside'), 'utf8'), 'user');
  });

  it('replace a folder and remove the new folders killed replacements left beside it', () => {
    const parent = tmpDir('atomic-dir');
    const dead = deadPid();
    mkdirSync(join(parent, `.bundle.new-${dead}-abc`));
    mkdirSync(join(parent, `.other.new-${dead}-abc`));
    replaceDirAtomic(join(parent, 'bundle'), { 'a.txt': 'a' });
    assert.deepEqual(readdirSync(parent).sort(), [`.other.new-${dead}-abc`, 'bundle']);
    assert.equal(readFileSync(join(parent, 'bundle', 'a.txt'), 'utf8'), 'a');
  });
});
