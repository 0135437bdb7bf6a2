import { LuxcertError } from '../core/errors.ts';
import { windowFromBbox, type Window } from '../data/crop.ts';
import { frameWindow } from '../runtime/frames.ts';

/** Where the node's regions come from (parameter `roi_mode`). */
export const ROI_MODES = ['centre', 'fixed', 'detections', 'tracking'] as const;
export type RoiMode = (typeof ROI_MODES)[number];

/** One detected box in full-image pixels. */
export interface DetectionBox {
  id: string;
  cx: number;
  cy: number;
  width: number;
  height: number;
}

/** A region to certify and where it came from. */
export interface Region {
  win: Window;
  source: string;
}

interface Detection2DLike {
  id?: string;
  bbox?: { center?: { position?: { x?: number; y?: number }; x?: number; y?: number }; size_x?: number; size_y?: number };
}

/**
 * The boxes of a vision_msgs/Detection2DArray (its center as vision_msgs/Pose2D of 4.x, or the
 * geometry_msgs/Pose2D of 3.x); boxes with a non-finite or non-positive size are skipped.
 */
export function detectionBoxes(msg: { detections?: Detection2DLike[] }): DetectionBox[] {
  const out: DetectionBox[] = [];
  (msg.detections ?? []).forEach((d, i) => {
    const c = d.bbox?.center;
    const cx = c?.position?.x ?? c?.x;
    const cy = c?.position?.y ?? c?.y;
    const width = d.bbox?.size_x;
    const height = d.bbox?.size_y;
    if ([cx, cy, width, height].every((v) => typeof v === 'number' && Number.isFinite(v)) && width! > 0 && height! > 0) {
      out.push({ id: d.id || String(i), cx: cx!, cy: cy!, width: width!, height: height! });
    }
  });
  return out;
}

/** Options of a region selector. */
export interface RegionOptions {
  mode: RoiMode;
  /** `fixed` mode: [x, y, size] of the square window, full-image pixels. */
  fixed?: readonly number[];
  /** The model's crop padding: a box becomes a square window this many times its longer side. */
  cropPadding: number;
  /** Detections whose stamp differs from the image's by at most this much match it. */
  stampToleranceNs: bigint;
  /** Detection messages kept while waiting for their image. */
  keep?: number;
}

/**
 * Chooses the regions of each image: its centred square, a fixed window, the boxes of the
 * detection message with the image's stamp (one certificate per box), or a window around the
 * previous frame's keypoints (falling back to the centred square when there are none).
 */
export class RegionSelector {
  private detections: { stampNs: bigint; boxes: DetectionBox[] }[] = [];
  private previous: [number, number][] | undefined;

  constructor(readonly o: RegionOptions) {
    if (o.mode === 'fixed') {
      const f = o.fixed ?? [];
      if (!(f.length === 3 && f.every(Number.isFinite) && f[2]! > 0)) throw new LuxcertError(`roi must be [x, y, size] with size > 0 for roi_mode fixed, got [${f.join(', ')}]`);
    }
  }

  /** Remembers one detection message. */
  addDetections(stampNs: bigint, boxes: DetectionBox[]): void {
    this.detections.push({ stampNs, boxes });
    if (this.detections.length > (this.o.keep ?? 30)) this.detections.shift();
  }

  /** Remembers the keypoints (full-image pixels) of the last frame, for `tracking`; none clears them. */
  observe(keypoints: [number, number][] | undefined): void {
    this.previous = keypoints && keypoints.length > 0 ? keypoints : undefined;
  }

  /** The regions of an image with this size and stamp. */
  regions(img: { width: number; height: number }, stampNs: bigint): Region[] {
    switch (this.o.mode) {
      case 'centre':
        return [{ win: frameWindow(img), source: 'centre' }];
      case 'fixed': {
        const [x, y, size] = this.o.fixed as [number, number, number];
        return [{ win: { cx: x + size / 2, cy: y + size / 2, side: size }, source: 'fixed' }];
      }
      case 'detections': {
        const diff = (a: bigint) => (a > stampNs ? a - stampNs : stampNs - a);
        const match = this.detections.filter((d) => diff(d.stampNs) <= this.o.stampToleranceNs).sort((a, b) => Number(diff(a.stampNs) - diff(b.stampNs)))[0];
        return (match?.boxes ?? []).map((b) => ({ win: windowFromBbox([b.cx - b.width / 2, b.cy - b.height / 2, b.width, b.height], this.o.cropPadding), source: `detection:${b.id}` }));
      }
      case 'tracking': {
        if (!this.previous) return [{ win: frameWindow(img), source: 'centre' }];
        const xs = this.previous.map((p) => p[0]);
        const ys = this.previous.map((p) => p[1]);
        const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
        return [{ win: windowFromBbox([x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0)], this.o.cropPadding), source: 'tracked' }];
      }
    }
  }
}
