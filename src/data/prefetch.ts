import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../core/ts-worker.ts';
import type { Augment, Batch } from './batch.ts';
import type { LoadedSet } from './dataset.ts';

/** What the batch worker is started with. */
export interface PrefetchSetup {
  set: LoadedSet;
  size: readonly [number, number];
  padding: number;
  /** Augmentation of the epochs given a seed. */
  augment?: Augment;
}

/** The main thread's requests: a new epoch (its order, batch size and augmentation seed), then its batches one at a time. */
export type PrefetchRequest = { kind: 'epoch'; id: number; order: readonly number[]; batchSize: number; seed?: number } | { kind: 'next' };

/** The worker's replies, each tagged with its epoch. */
export type PrefetchReply = { kind: 'batch'; id: number; batch: Batch } | { kind: 'error'; id: number; message: string };

/**
 * Makes a training run's batches (`epochBatches`: crop, resample, augment) on a worker thread, ahead
 * of the caller: onnxruntime's `run` holds the main thread for the whole run, so the next run's
 * batches are made meanwhile instead of after it — where a core is free for it (`leavesACore`). The
 * batches are bit for bit those `epochBatches` makes on the main thread. The images cross once, when
 * the worker starts, and are shared rather than copied where they live in shared memory (`loadDataset`
 * puts them there); each batch's arrays are transferred, not copied.
 */
export class BatchPrefetcher {
  private readonly worker: Worker;
  private readonly replies: PrefetchReply[] = [];
  private waiting?: () => void;
  private failure?: Error;
  private epochs = 0;
  private closed = false;

  constructor(setup: PrefetchSetup) {
    this.worker = startTsWorker(new URL('./batch-worker.ts', import.meta.url), setup);
    this.worker.on('message', (r: PrefetchReply) => {
      this.replies.push(r);
      this.wake();
    });
    this.worker.on('error', (e) => this.fail(`the batch worker failed: ${e.message}`));
    this.worker.on('exit', (code) => this.fail(`the batch worker exited (code ${code})`));
  }

  /**
   * One epoch's batches, as `epochBatches` makes them with this prefetcher's data set, size, padding
   * and augmentation; the worker keeps `ahead` batches (a run's worth of steps) made or in the making.
   */
  async *epoch(order: readonly number[], batchSize: number, seed?: number, ahead = 1): AsyncGenerator<Batch> {
    if (this.closed) throw new Error('the batch prefetcher is closed');
    const id = ++this.epochs;
    const count = Math.ceil(order.length / batchSize);
    this.worker.postMessage({ kind: 'epoch', id, order, batchSize, ...(seed === undefined ? {} : { seed }) } satisfies PrefetchRequest);
    let asked = 0;
    const ask = () => {
      if (asked === count) return;
      asked++;
      this.worker.postMessage({ kind: 'next' } satisfies PrefetchRequest);
    };
    for (let k = 0; k < Math.max(1, ahead); k++) ask();
    for (let k = 0; k < count; k++) {
      const batch = await this.reply(id);
      ask();
      yield batch;
    }
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  /** The next batch of epoch `id`; replies to an epoch the caller left early are dropped. */
  private async reply(id: number): Promise<Batch> {
    for (;;) {
      const r = this.replies.shift();
      if (r?.id === id) {
        if (r.kind === 'error') throw new Error(`the batch worker failed: ${r.message}`);
        return r.batch;
      }
      if (r) continue;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private fail(message: string): void {
    if (this.closed) return;
    this.failure ??= new Error(message);
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
