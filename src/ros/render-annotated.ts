import sharp from 'sharp';
import type { RgbImage } from '../data/image.ts';
import type { CertifiedKeypointsMsg, Header } from './messages.ts';

const COLOURS = ['#f59e0b', '#22c55e', '#ef4444'] as const;

/**
 * The frame with a keypoints message drawn over it (regions, tolerance squares and keypoints
 * coloured by verdict, the certified box as text) as a sensor_msgs/Image (rgb8) with the frame's header.
 */
export async function renderAnnotated(img: RgbImage, k: CertifiedKeypointsMsg, header: Header): Promise<Record<string, unknown>> {
  const parts: string[] = [];
  for (const o of k.objects) {
    parts.push(`<rect x="${o.roi_x}" y="${o.roi_y}" width="${o.roi_size}" height="${o.roi_size}" fill="none" stroke="white" stroke-dasharray="4 3" opacity="0.6"/>`);
    for (const p of o.keypoints) {
      const c = COLOURS[p.verdict] ?? COLOURS[0];
      const d = o.tolerance_px;
      parts.push(`<rect x="${p.x - d}" y="${p.y - d}" width="${2 * d}" height="${2 * d}" fill="none" stroke="${c}"/><circle cx="${p.x}" cy="${p.y}" r="3" fill="${c}" stroke="black"/>`);
    }
    const b = o.certified_box;
    parts.push(`<text x="${o.roi_x + 2}" y="${o.roi_y + 12}" font-family="monospace" font-size="11" fill="white" stroke="black" stroke-width="0.3">α ${b.contrast_min.toFixed(3)}–${b.contrast_max.toFixed(3)} β ${b.brightness_min.toFixed(3)}–${b.brightness_max.toFixed(3)}</text>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${img.width}" height="${img.height}">${parts.join('')}</svg>`;
  const data = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg) }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return { header, height: img.height, width: img.width, encoding: 'rgb8', is_bigendian: 0, step: img.width * 3, data: new Uint8Array(data) };
}
