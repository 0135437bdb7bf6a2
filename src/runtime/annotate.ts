import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomic-write.ts';
import type { RgbImage } from '../data/image.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { frameWindow, toImagePixels } from './frames.ts';
import type { FrameResult } from './runtime.ts';

const COLOURS = { certified: '#22c55e', falsified: '#ef4444', unknown: '#f59e0b' } as const;

/**
 * Draws a frame's result: the skeleton, each keypoint with its tolerance square (L∞, the
 * certified property) coloured by verdict, and the certified box as text. The frame is scaled up
 * so the overlay stays readable.
 */
export async function annotateFrame(img: RgbImage, r: FrameResult, meta: ModelMeta, path: string): Promise<void> {
  const scale = Math.max(1, Math.round(256 / Math.max(img.width, img.height)));
  const w = img.width * scale;
  const h = img.height * scale;
  const win = frameWindow(img);
  const fx = (x: number) => toImagePixels(win, meta, x, 0)[0] * scale;
  const fy = (y: number) => toImagePixels(win, meta, 0, y)[1] * scale;
  const tol = ((r.tolerance * win.side) / meta.inputSize[1]) * scale;
  const kp = r.keypoints;
  const lines = meta.skeleton.map(([a, b]) => `<line x1="${fx(kp[a]!.x)}" y1="${fy(kp[a]!.y)}" x2="${fx(kp[b]!.x)}" y2="${fy(kp[b]!.y)}" stroke="white" stroke-width="1.5" opacity="0.7"/>`);
  const marks = kp.map((k) => {
    const c = COLOURS[k.verdict];
    return `<rect x="${fx(k.x) - tol}" y="${fy(k.y) - tol}" width="${2 * tol}" height="${2 * tol}" fill="none" stroke="${c}" stroke-width="1.5"/><circle cx="${fx(k.x)}" cy="${fy(k.y)}" r="3" fill="${c}" stroke="black"/>`;
  });
  const b = r.box;
  const text = `α ${b.alphaLo.toFixed(3)}–${b.alphaHi.toFixed(3)} β ${b.betaLo.toFixed(3)}–${b.betaHi.toFixed(3)} τ ${r.tolerance}px`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${lines.join('')}${marks.join('')}<rect x="0" y="${h - 18}" width="${w}" height="18" fill="black" opacity="0.6"/><text x="4" y="${h - 5}" font-family="monospace" font-size="10" fill="white">${text}</text></svg>`;
  const png = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(w, h, { kernel: 'nearest' })
    .composite([{ input: Buffer.from(svg) }])
    .png()
    .toBuffer();
  writeFileAtomic(path, png);
}
