// The batch worker of `BatchPrefetcher`: it makes the batches of the epoch it was last given, one per request.
import { parentPort, workerData } from 'node:worker_threads';
import { epochBatches, type Batch } from './batch.ts';
import type { PrefetchReply, PrefetchRequest, PrefetchSetup } from './prefetch.ts';

const { set, size, padding, augment } = workerData as PrefetchSetup;
const port = parentPort!;
let epoch: { id: number; batches: Generator<Batch> } | undefined;

port.on('message', (m: PrefetchRequest) => {
  if (m.kind === 'epoch') {
    epoch = { id: m.id, batches: epochBatches(set, m.order, m.batchSize, size, padding, augment, m.seed) };
    return;
  }
  const { id, batches } = epoch!;
  try {
    const batch = batches.next().value as Batch;
    // makeBatch allocates its arrays, so their buffers can be transferred.
    port.postMessage({ kind: 'batch', id, batch } satisfies PrefetchReply, [batch.x, batch.keypoints, batch.mask].map((a) => a.buffer as ArrayBuffer));
  } catch (err) {
    port.postMessage({ kind: 'error', id, message: err instanceof Error ? err.message : String(err) } satisfies PrefetchReply);
  }
});
