import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../../src/core/random.ts';
import { DEFAULT_AUGMENT, makeBatch, type Batch } from '../../src/data/batch.ts';
import { loadDataset, type LoadedSet } from '../../src/data/dataset.ts';
import { BatchPrefetcher } from '../../src/data/prefetch.ts';
import { synthesize } from '../../src/data/synth.ts';
import { tmpDir } from '../helpers/tmp.ts';

const dir = join(tmpDir('prefetch'), 'scenes');

/** makeBatch over `order`'s slices, all augmented from one Rng: written out here to check `epochBatches` as the worker runs it. */
function onMainThread(set: LoadedSet, order: number[], batchSize: number, seed?: number): Batch[] {
  const rng = seed === undefined ? undefined : new Rng(seed);
  const out: Batch[] = [];
  for (let s = 0; s < order.length; s += batchSize) out.push(makeBatch(set, order.slice(s, s + batchSize), [24, 24], 1.25, rng ? { rng, params: DEFAULT_AUGMENT } : undefined));
  return out;
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('batches cut on a worker thread (BatchPrefetcher)', () => {
  let set: LoadedSet;
  let prefetch: BatchPrefetcher;
  before(async () => {
    await synthesize({ out: dir, count: 11, size: 48, seed: 5 });
    set = await loadDataset(dir);
    prefetch = new BatchPrefetcher({ set, size: [24, 24], padding: 1.25, augment: DEFAULT_AUGMENT });
  });
  after(async () => {
    await prefetch.close();
  });

  it('reads the data set pixels from shared memory', () => {
    assert.ok(set.images.every((img) => img.data.buffer instanceof SharedArrayBuffer));
  });

  it('are bit for bit the main thread makeBatch batches, epoch after epoch, augmented from the seed or not at all', async () => {
    const order = [7, 2, 9, 0, 4, 10, 1, 8, 3, 6, 5];
    // Asked a run of several ahead (up to more than the epoch has), the same batches in the same order.
    for (const [batchSize, seed, ahead] of [[4, 17, 1], [4, 18, 1], [5, undefined, 1], [32, 3, 1], [2, 17, 4], [4, 18, 9]] as const) {
      const got = await collect(prefetch.epoch(order, batchSize, seed, ahead));
      const want = onMainThread(set, order, batchSize, seed);
      assert.equal(got.length, Math.ceil(order.length / batchSize));
      assert.deepEqual(got, want, `batch size ${batchSize}, seed ${seed}, ${ahead} ahead`);
    }
    // Different seeds augment differently: the comparison above is not between two unaugmented runs.
    assert.notDeepEqual(onMainThread(set, order, 4, 17)[0]!.x, onMainThread(set, order, 4, 18)[0]!.x);
  });

  it('starts a new epoch cleanly after one left early', async () => {
    for (const ahead of [1, 3]) {
      for await (const b of prefetch.epoch([0, 1, 2, 3, 4, 5, 6, 7], 2, 1, ahead)) {
        assert.equal(b.n, 2);
        break;
      }
      assert.deepEqual(await collect(prefetch.epoch([5, 4, 3], 2, 2)), onMainThread(set, [5, 4, 3], 2, 2), `left with ${ahead} ahead`);
    }
  });

  it("reports the worker's failure as an error naming it, and keeps serving later epochs", async () => {
    await assert.rejects(collect(prefetch.epoch([0, 99], 2, 1)), /the batch worker failed: /);
    assert.deepEqual(await collect(prefetch.epoch([1], 1)), onMainThread(set, [1], 1));
  });

  it('ends an epoch with an error, not a hang, when the worker dies', async () => {
    const doomed = new BatchPrefetcher({ set, size: [24, 24], padding: 1.25 });
    const batches = doomed.epoch([0, 1, 2, 3], 1);
    assert.equal((await batches.next()).value.n, 1);
    await (doomed as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await assert.rejects(collect(batches), /the batch worker exited/);
    await doomed.close();
  });

  it('refuses epochs once closed', async () => {
    const closed = new BatchPrefetcher({ set, size: [24, 24], padding: 1.25 });
    await closed.close();
    await assert.rejects(collect(closed.epoch([0], 1)), /closed/);
  });
});
