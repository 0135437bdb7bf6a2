import { join } from 'node:path';
import { makeBatch } from './batch.ts';
import type { LoadedSet } from './dataset.ts';
import { writePng } from './image.ts';

/**
 * Writes objects' model-input crops as PNG frames (a synthetic camera sequence framed like the
 * training crops), named frame-000000.png, … in `dir`.
 */
export async function writeCropFrames(set: LoadedSet, indices: number[], size: readonly [number, number], padding: number, dir: string): Promise<void> {
  const b = makeBatch(set, indices, size, padding);
  const [h, w] = size;
  const plane = h * w;
  for (let n = 0; n < b.n; n++) {
    const data = new Uint8Array(plane * 3);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(b.x[n * 3 * plane + c * plane + i]! * 255);
    await writePng(join(dir, `frame-${String(n).padStart(6, '0')}.png`), { width: w, height: h, data });
  }
}
