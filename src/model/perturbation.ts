import { LuxcertError } from '../core/errors.ts';

/** A brightness/contrast box: α ∈ [alphaLo, alphaHi] (contrast), β ∈ [betaLo, betaHi] (brightness). */
export interface Box {
  alphaLo: number;
  alphaHi: number;
  betaLo: number;
  betaHi: number;
}

/** The box of `--contrast c --brightness b`: α ∈ [1−c, 1+c], β ∈ [−b, b]. */
export function boxFromFlags(brightness: number, contrast: number): Box {
  if (!(brightness >= 0) || !Number.isFinite(brightness)) throw new LuxcertError(`--brightness must be a number ≥ 0, got ${brightness}`);
  // Pixels lie in [0, 1]: a shift beyond ±1 saturates every one of them, and a bundle's claim refuses it.
  if (brightness > 1) throw new LuxcertError(`--brightness must be at most 1 (pixels lie in [0, 1]), got ${brightness}`);
  if (!(contrast >= 0 && contrast < 1)) throw new LuxcertError(`--contrast must be in [0, 1), got ${contrast}`);
  return checkBox({ alphaLo: 1 - contrast, alphaHi: 1 + contrast, betaLo: -brightness, betaHi: brightness });
}

/**
 * Checks that a box is well formed and contains the identity (1, 0), as every certified box must.
 * Its edges must be finite in float32 too, the precision the bound graph and the model compute in;
 * rounding to nearest is monotone, so every (α, β) of the box rounds into the rounded box.
 */
export function checkBox(b: Box): Box {
  const vals = [b.alphaLo, b.alphaHi, b.betaLo, b.betaHi];
  if (!vals.every((v) => typeof v === 'number' && Number.isFinite(v) && Number.isFinite(Math.fround(v))) || b.alphaLo > b.alphaHi || b.betaLo > b.betaHi) {
    throw new LuxcertError(`perturbation box α [${b.alphaLo}, ${b.alphaHi}] × β [${b.betaLo}, ${b.betaHi}] is not a box`);
  }
  if (!(b.alphaLo <= 1 && b.alphaHi >= 1 && b.betaLo <= 0 && b.betaHi >= 0)) {
    throw new LuxcertError(`perturbation box α [${b.alphaLo}, ${b.alphaHi}] × β [${b.betaLo}, ${b.betaHi}] does not contain the identity (1, 0)`);
  }
  return b;
}

/**
 * Halves a box across the side with the larger effect on the camera's output: α's width counts
 * `alphaWeight` times (see `alphaWeight`), β's once.
 */
export function splitBox(b: Box, alphaWeight = 1): [Box, Box] {
  if ((b.alphaHi - b.alphaLo) * alphaWeight >= b.betaHi - b.betaLo) {
    const m = (b.alphaLo + b.alphaHi) / 2;
    return [{ ...b, alphaHi: m }, { ...b, alphaLo: m }];
  }
  const m = (b.betaLo + b.betaHi) / 2;
  return [{ ...b, betaHi: m }, { ...b, betaLo: m }];
}

/**
 * How much a unit of α moves the image against a unit of β: α·x + β moves pixel x by x·Δα and by
 * Δβ, so α's width weighs the image's mean pixel. Splitting by it proves the demo benchmark with
 * 5–6 % fewer sub-boxes than equal weights (docs/certification.md).
 */
export function alphaWeight(image: Float32Array): number {
  let sum = 0;
  for (const v of image) sum += v;
  return image.length > 0 ? sum / image.length : 1;
}

/** A box cut into g × g equal sub-boxes. */
export function gridBoxes(b: Box, g: number): Box[] {
  const out: Box[] = [];
  const da = (b.alphaHi - b.alphaLo) / g;
  const db = (b.betaHi - b.betaLo) / g;
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      out.push({ alphaLo: b.alphaLo + i * da, alphaHi: i === g - 1 ? b.alphaHi : b.alphaLo + (i + 1) * da, betaLo: b.betaLo + j * db, betaHi: j === g - 1 ? b.betaHi : b.betaLo + (j + 1) * db });
    }
  }
  return out;
}

/** One perturbed pixel clip(α·x + β, 0, 1), computed in float32 like the camera model in ONNX (α, β and x already float32). */
export const perturbPixel = (alpha32: number, beta32: number, x: number): number => Math.min(1, Math.max(0, Math.fround(Math.fround(alpha32 * x) + beta32)));

/** The perturbed image clip(α·x + β, 0, 1), computed in float32 like the camera model in ONNX. */
export function perturbImage(x: Float32Array, alpha: number, beta: number, out = new Float32Array(x.length)): Float32Array {
  const a = Math.fround(alpha);
  const b = Math.fround(beta);
  for (let i = 0; i < x.length; i++) out[i] = perturbPixel(a, b, x[i]!);
  return out;
}
