import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { slotRate, SlotChild } from '../../bench/slots.ts';
import { tmpDir } from '../helpers/tmp.ts';

const SLOTS = new URL('../../bench/slots.ts', import.meta.url).pathname;

/** A child serving slots whose step takes ~10 ms and counts 4 images, finishing with how many steps it took. */
function fakeSide(dir: string): string {
  const file = join(dir, 'side.mts');
  writeFileSync(file, `import { serveSlots } from ${JSON.stringify(SLOTS)};
let steps = 0;
await serveSlots(async () => { steps++; await new Promise((r) => setTimeout(r, 10)); return 4; }, async () => ({ steps }));
`);
  return file;
}

test('a slot child trains for at least the asked time in whole steps and finishes with its own figures', async () => {
  const dir = tmpDir('slots');
  const child = await SlotChild.start('fake', process.execPath, ['--import', 'tsx', fakeSide(dir)]);
  const slots = [await child.train(0.05), await child.train(0.05)];
  for (const s of slots) {
    assert.ok(s.seconds >= 0.05, `slot of ${s.seconds} s`);
    assert.equal(s.images % 4, 0);
    assert.ok(s.images >= 4);
  }
  const end = await child.finish<{ steps: number }>();
  // The warm-up step is not in any slot.
  assert.equal(end.steps, 1 + (slots[0]!.images + slots[1]!.images) / 4);
  assert.ok(Math.abs(slotRate(slots) - (slots[0]!.images + slots[1]!.images) / (slots[0]!.seconds + slots[1]!.seconds)) < 1e-9);
});

test('a slot child that fails is reported with its last stderr line, not awaited forever', async () => {
  const dir = tmpDir('slots');
  const file = join(dir, 'bad.mts');
  writeFileSync(file, `import { serveSlots } from ${JSON.stringify(SLOTS)};
await serveSlots(async () => 1, async () => { throw new Error('no figures here'); });
`);
  const child = await SlotChild.start('bad', process.execPath, ['--import', 'tsx', file]);
  await assert.rejects(child.finish(), /bad ended \(exit 1\).*no figures here/);
});
