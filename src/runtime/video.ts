import { existsSync } from 'node:fs';
import { LuxcertError } from '../core/errors.ts';
import type { RgbImage } from '../data/image.ts';
import type { Frame } from './frames.ts';

/** The part of @u4/opencv4nodejs the runtime uses (the package is optional, so its types are not required to build). */
interface CvMat {
  empty: boolean;
  rows: number;
  cols: number;
  channels: number;
  cvtColor(code: number): CvMat;
  getData(): Buffer;
  release(): void;
}
interface CvCapture {
  read(): CvMat;
  get(prop: number): number;
  release(): void;
}
interface Cv {
  VideoCapture: new (source: string | number, api?: number) => CvCapture;
  COLOR_BGR2RGB: number;
  COLOR_BGRA2RGB: number;
  COLOR_GRAY2RGB: number;
  CAP_PROP_FRAME_COUNT: number;
  CAP_PROP_POS_MSEC: number;
  CAP_GSTREAMER: number;
}

export const OPENCV_PACKAGE = '@u4/opencv4nodejs';
const INSTALL_HINT = `apt-get install libopencv-dev, then OPENCV4NODEJS_DISABLE_AUTOBUILD=1 npm install ${OPENCV_PACKAGE}`;

/** Consecutive undecodable frames after which a video is taken to be over (truncated or corrupt). */
const MAX_FAILED_READS = 3;

const loaded = new Map<string, Promise<Cv>>();

/** Loads OpenCV (`pkg`: the binding package) on first use; a missing package is a one-line error that says how to install it. */
export function loadOpenCv(pkg: string = OPENCV_PACKAGE): Promise<Cv> {
  // The package builds against the system OpenCV; without this it would try to build its own at import.
  process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
  // By default the binding reports every Mat's pixels to V8 as they are allocated and freed. A Mat
  // still uncollected when Node tears its isolate down is freed against a half-destroyed isolate:
  // `luxcert run` on a video died with SIGSEGV after its work was done (2 of 87 test runs under load;
  // core: cv::Mat::release → v8::Isolate::AdjustAmountOfExternalAllocatedMemory from ~IsolateData).
  // Without the tracking, freeing a Mat never calls into V8; toRgb frees the pixels itself.
  process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
  process.env.OPENCV_LOG_LEVEL ??= 'FATAL';
  process.env.OPENCV_FFMPEG_LOGLEVEL ??= '-8';
  // Its build helper logs to stdout on import, which would corrupt `run --json`; silence it first.
  const builder = '@u4/opencv-build';
  let cv = loaded.get(pkg);
  if (!cv) {
    cv = import(builder)
      .then((b: { Log?: { silence: boolean } }) => { if (b.Log) b.Log.silence = true; }, () => undefined)
      .then(() => import(pkg))
      .then(
        (m: { default?: Cv } & Cv) => m.default ?? m,
        (e: unknown) => {
          loaded.delete(pkg);
          throw new LuxcertError(`video files and cameras need the optional package ${OPENCV_PACKAGE} (${INSTALL_HINT}); it could not be loaded: ${firstLine(e)}`);
        },
      );
    loaded.set(pkg, cv);
  }
  return cv;
}

/** The first line of what a native binding threw (an Error, or a bare string). */
function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0]!;
}

/**
 * An OpenCV frame (BGR, BGRA or grey) as RGB, copied out. Both Mats' pixels are freed here rather
 * than when the garbage collector finds their small wrappers (V8 is not told how big they are, see
 * loadOpenCv), so a long video holds one frame's pixels at a time.
 */
function toRgb(cv: Cv, m: CvMat): RgbImage {
  const rgb = m.channels === 3 ? m.cvtColor(cv.COLOR_BGR2RGB) : m.channels === 4 ? m.cvtColor(cv.COLOR_BGRA2RGB) : m.cvtColor(cv.COLOR_GRAY2RGB);
  try {
    return { width: rgb.cols, height: rgb.rows, data: new Uint8Array(rgb.getData()) };
  } finally {
    rgb.release();
    m.release();
  }
}

/**
 * Frames of a video file, `camera:N` (V4L2 device N) or `gst:PIPELINE` (a GStreamer pipeline ending
 * in appsink). An undecodable frame becomes a frame with an error; after a few in a row the video is
 * over, and when the file announced more frames than it gave, a last error frame says it was cut short.
 */
export async function* videoFrames(input: string): AsyncGenerator<Frame> {
  const cv = await loadOpenCv();
  const camera = /^camera:(\d+)$/.exec(input);
  const isFile = !camera && !input.startsWith('gst:');
  if (isFile && !existsSync(input)) throw new LuxcertError(`${input}: no such file or folder`);
  let cap: CvCapture;
  try {
    cap = camera ? new cv.VideoCapture(Number(camera[1])) : input.startsWith('gst:') ? new cv.VideoCapture(input.slice(4), cv.CAP_GSTREAMER) : new cv.VideoCapture(input);
  } catch (e) {
    throw new LuxcertError(`${input}: OpenCV cannot open it (${firstLine(e)})`);
  }
  try {
    const announced = isFile ? Math.round(cap.get(cv.CAP_PROP_FRAME_COUNT)) : 0;
    // Files are stamped with their media time (an undecodable frame with the last good one), live sources with the wall clock.
    let media = 0;
    const now = (decodedFrame = false) => (isFile ? (decodedFrame ? (media = cap.get(cv.CAP_PROP_POS_MSEC)) : media) : Date.now());
    let id = 0;
    let decoded = 0;
    let failed = 0;
    for (;;) {
      let mat: CvMat | undefined;
      let error: string | undefined;
      try {
        mat = cap.read();
      } catch (e) {
        error = firstLine(e);
      }
      if (mat && !mat.empty) {
        failed = 0;
        decoded++;
        yield { id: id++, source: input, timestamp: now(true), image: toRgb(cv, mat) };
        continue;
      }
      // An empty read is the normal end of a file; short of its announced length, it is a damaged file.
      if (isFile && decoded >= announced && !error) return;
      if (++failed > MAX_FAILED_READS) {
        if (isFile) yield { id: id++, source: input, timestamp: now(), error: `video ended after ${decoded} of ${announced} frames: the rest cannot be decoded (truncated or corrupt file)` };
        else yield { id: id++, source: input, timestamp: now(), error: `${input} stopped delivering frames` };
        return;
      }
      if (error) yield { id: id++, source: input, timestamp: now(), error: `undecodable frame: ${error}` };
    }
  } finally {
    cap.release();
  }
}
