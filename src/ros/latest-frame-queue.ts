import type { Frame } from '../runtime/frames.ts';

/**
 * A one-frame mailbox between a subscription and the runtime: `push` never waits; a frame that
 * arrives while another still waits replaces it (counted in `dropped`), so at most one frame is in
 * flight and one waiting, and the runtime always takes the newest.
 */
export class LatestFrameQueue implements AsyncIterable<Frame> {
  dropped = 0;
  private slot: Frame | undefined;
  private waiter: ((r: IteratorResult<Frame>) => void) | undefined;
  private closed = false;

  /** Offers a frame; a waiting older frame is dropped. */
  push(f: Frame): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: f, done: false });
      return;
    }
    if (this.slot) this.dropped++;
    this.slot = f;
  }

  /** Ends the iteration (after the frame in hand); a waiting frame is discarded. */
  close(): void {
    this.closed = true;
    this.slot = undefined;
    this.waiter?.({ value: undefined, done: true });
    this.waiter = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Frame> {
    return {
      next: () => {
        if (this.slot) {
          const f = this.slot;
          this.slot = undefined;
          return Promise.resolve({ value: f, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => (this.waiter = r));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
