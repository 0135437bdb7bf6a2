// Writes PNG frames into an MJPG clip with OpenCV, in its own process, so the test process never
// loads OpenCV; each Mat's pixels are freed as soon as the frame is written (see toRgb in
// src/runtime/video.ts).
// Usage: node --import tsx write-clip.ts OUT.avi FRAME.png…; exit 3 when the binding cannot be loaded.
import { loadOpenCv } from '../../src/runtime/video.ts';
import { readImage } from '../../src/data/image.ts';

interface OpenCvMat {
  cvtColor(code: number): OpenCvMat;
  release(): void;
}
interface OpenCvForTests {
  VideoWriter: { new (path: string, fourcc: number, fps: number, size: unknown, color: boolean): { write(m: unknown): void; release(): void }; fourcc(code: string): number };
  Size: new (w: number, h: number) => unknown;
  Mat: new (data: Buffer, rows: number, cols: number, type: number) => OpenCvMat;
  CV_8UC3: number;
  COLOR_RGB2BGR: number;
}

const [out, ...frames] = process.argv.slice(2);
const cv = (await loadOpenCv().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(3);
})) as unknown as OpenCvForTests;
const first = await readImage(frames[0]!);
const writer = new cv.VideoWriter(out!, cv.VideoWriter.fourcc('MJPG'), 10, new cv.Size(first.width, first.height), true);
for (const f of frames) {
  const img = await readImage(f);
  const rgb = new cv.Mat(Buffer.from(img.data), img.height, img.width, cv.CV_8UC3);
  const bgr = rgb.cvtColor(cv.COLOR_RGB2BGR);
  writer.write(bgr);
  bgr.release();
  rgb.release();
}
writer.release();
