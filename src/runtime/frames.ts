import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { LuxcertError } from '../core/errors.ts';
import { sampleWindow, type Window } from '../data/crop.ts';
import { readImage, type RgbImage } from '../data/image.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { videoFrames } from './video.ts';

/** One frame from a source: the image, or why it could not be read. */
export interface Frame {
  id: number;
  source: string;
  timestamp: number;
  image?: RgbImage;
  error?: string;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff']);

/** The frames of an image folder in name order; unreadable files become frames with an error. */
async function* folderFrames(dir: string): AsyncGenerator<Frame> {
  const files = readdirSync(dir).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort();
  if (files.length === 0) throw new LuxcertError(`${dir}: no image files (png, jpg, webp, …)`);
  let id = 0;
  for (const f of files) {
    const path = join(dir, f);
    const frame: Frame = { id: id++, source: path, timestamp: Date.now() };
    try {
      frame.image = await readImage(path);
    } catch (e) {
      frame.error = (e as Error).message;
    }
    yield frame;
  }
}

/**
 * Opens a frame source: an image folder, or (with the optional `@u4/opencv4nodejs`, loaded only
 * here) a video file, `camera:N` or `gst:PIPELINE`.
 */
export function openSource(input: string): AsyncIterable<Frame> {
  if (!input.startsWith('camera:') && !input.startsWith('gst:')) {
    let isDir = false;
    try {
      isDir = statSync(input).isDirectory();
    } catch {
      throw new LuxcertError(`${input}: no such file or folder`);
    }
    if (isDir) return folderFrames(input);
  }
  return videoFrames(input);
}

/** The window of a frame the model sees: its centred square. */
export function frameWindow(img: { width: number; height: number }): Window {
  return { cx: img.width / 2, cy: img.height / 2, side: Math.min(img.width, img.height) };
}

/** A point in model-input pixels as full-image pixels of the frame `win` was cut from. */
export function toImagePixels(win: Window, meta: ModelMeta, x: number, y: number): [number, number] {
  return [win.cx - win.side / 2 + (x * win.side) / meta.inputSize[1], win.cy - win.side / 2 + (y * win.side) / meta.inputSize[0]];
}

/** The model input of a frame: a window (default the centred square), resized to the model's input, scaled to [0, 1]. */
export function preprocessFrame(img: RgbImage, meta: ModelMeta, win: Window = frameWindow(img)): Float32Array {
  const out = new Float32Array(3 * meta.inputSize[0] * meta.inputSize[1]);
  sampleWindow(img, win, meta.inputSize, meta.pixelScale, out);
  return out;
}
