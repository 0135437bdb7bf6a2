import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { LuxcertError } from '../core/errors.ts';

/** An 8-bit RGB image, row-major, channels interleaved (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * The most pixels an image file may declare (8K UHD is 33 MP). sharp checks it against the header
 * before decoding, so a decompression bomb (a 16000 × 16000 PNG of a few hundred KB) is refused
 * without allocating its pixels.
 */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Decodes an image file (PNG, JPEG, …) to RGB; grey images are expanded, alpha dropped. */
export async function readImage(path: string): Promise<RgbImage> {
  return decodeImage(path, path);
}

/** Decodes an encoded image (a file path or its bytes; `name` in errors) to RGB. */
export async function decodeImage(input: string | Uint8Array, name: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels === 3) return { width: info.width, height: info.height, data: new Uint8Array(data) };
    const rgb = new Uint8Array(info.width * info.height * 3);
    for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels]!, 3 * i, 3 * i + 3);
    return { width: info.width, height: info.height, data: rgb };
  } catch (e) {
    throw new LuxcertError(`${name}: cannot read image (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Encodes an RGB image as PNG bytes (zlib `compressionLevel` 0–9: lower is faster). */
export async function encodePng(img: RgbImage, compressionLevel = 6): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } }).png({ compressionLevel }).toBuffer());
}

/** Writes an RGB image as a PNG file atomically. */
export async function writePng(path: string, img: RgbImage): Promise<void> {
  writeFileAtomic(path, await encodePng(img));
}
