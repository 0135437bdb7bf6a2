import { LuxcertError } from '../core/errors.ts';
import { decodeImage, MAX_IMAGE_PIXELS, type RgbImage } from '../data/image.ts';

/** The fields of sensor_msgs/Image luxcert reads. */
export interface RawImageMsg {
  height: number;
  width: number;
  encoding: string;
  is_bigendian: number;
  step: number;
  data: Uint8Array | number[];
}

/** The encodings luxcert takes: 8 bits per channel, colour or grey. */
export const IMAGE_ENCODINGS = ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'] as const;

const CHANNELS: Record<(typeof IMAGE_ENCODINGS)[number], number> = { rgb8: 3, bgr8: 3, rgba8: 4, bgra8: 4, mono8: 1 };

/**
 * An RGB image from a sensor_msgs/Image, every field checked against the others before a byte is
 * read: a supported 8-bit encoding (16-bit and Bayer images are refused with the reason), positive
 * size within MAX_IMAGE_PIXELS, a row step that holds a row, and data that holds every row.
 */
export function imageFromMsg(m: RawImageMsg): RgbImage {
  const enc = m.encoding as (typeof IMAGE_ENCODINGS)[number];
  const c = CHANNELS[enc];
  if (c === undefined) throw new LuxcertError(`image encoding '${m.encoding}' is not supported (${IMAGE_ENCODINGS.join(', ')}); 16-bit and Bayer images need converting first`);
  const { width: w, height: h, step } = m;
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 && w * h <= MAX_IMAGE_PIXELS)) throw new LuxcertError(`image size ${w}×${h} is not between 1 pixel and ${MAX_IMAGE_PIXELS}`);
  if (!(Number.isInteger(step) && step >= w * c)) throw new LuxcertError(`image step ${step} is shorter than a row of ${w} ${m.encoding} pixels`);
  if (m.data.length < step * (h - 1) + w * c) throw new LuxcertError(`image data holds ${m.data.length} bytes, ${w}×${h} ${m.encoding} with step ${step} needs ${step * (h - 1) + w * c}`);
  const data = new Uint8Array(w * h * 3);
  const bgr = enc === 'bgr8' || enc === 'bgra8';
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = y * step + x * c;
      const d = (y * w + x) * 3;
      if (c === 1) data.fill(m.data[s]!, d, d + 3);
      else {
        data[d] = m.data[bgr ? s + 2 : s]!;
        data[d + 1] = m.data[s + 1]!;
        data[d + 2] = m.data[bgr ? s : s + 2]!;
      }
    }
  }
  return { width: w, height: h, data };
}

/** An RGB image from a sensor_msgs/CompressedImage (JPEG, PNG, …), size-checked from its header before decoding. */
export async function imageFromCompressed(m: { format: string; data: Uint8Array | number[] }): Promise<RgbImage> {
  return decodeImage(m.data instanceof Uint8Array ? m.data : Uint8Array.from(m.data), `compressed image (${m.format})`);
}
