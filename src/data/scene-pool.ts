import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../core/ts-worker.ts';
import type { RgbImage } from './image.ts';
import type { ComposedScene } from './scene.ts';

/** A scene for a worker to finish, and its answer. */
export type SceneRequest = { id: number; scene: ComposedScene };
export type SceneReply = { id: number; image: RgbImage } | { id: number; error: string };

interface Pending {
  resolve: (image: RgbImage) => void;
  reject: (err: Error) => void;
}

/**
 * Finishes composed scenes (`finishScene`: a power and a normal per value, ~70 % of a scene's
 * rendering) on worker threads while the caller composes the next ones. Each scene carries its own
 * place in the random stream, so the pixels are bit for bit those of `renderScene`, whichever worker
 * finishes it. A worker that fails or exits fails its pending scenes and every later one.
 */
export class ScenePool {
  private readonly workers: { worker: Worker; pending: Map<number, Pending> }[];
  private ids = 0;
  private failure?: Error;
  private closed = false;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, (_, k) => {
      const w = { worker: startTsWorker(new URL('./scene-worker.ts', import.meta.url)), pending: new Map<number, Pending>() };
      w.worker.on('message', (r: SceneReply) => {
        const p = w.pending.get(r.id);
        w.pending.delete(r.id);
        if ('error' in r) p?.reject(new Error(`scene worker ${k + 1} failed: ${r.error}`));
        else p?.resolve(r.image);
      });
      w.worker.on('error', (e) => this.fail(w.pending, `scene worker ${k + 1} failed: ${e.message}`));
      w.worker.on('exit', (code) => this.fail(w.pending, `scene worker ${k + 1} exited (code ${code})`));
      return w;
    });
  }

  /** The scene's pixels, finished by the worker with the fewest scenes waiting; the scene's linear image is handed over, not copied. */
  finish(scene: ComposedScene): Promise<RgbImage> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the scene pool is closed'));
    const w = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = ++this.ids;
    return new Promise<RgbImage>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.worker.postMessage({ id, scene } satisfies SceneRequest, [scene.linear.buffer as ArrayBuffer]);
    });
  }

  /** Stops the workers; scenes still waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    for (const w of this.workers) this.fail(w.pending, 'the scene pool was closed');
  }

  private fail(pending: Map<number, Pending>, message: string): void {
    const err = new Error(message);
    if (!this.closed) this.failure ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }
}
