import { LuxcertError } from '../core/errors.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { checkBox, type Box } from '../model/perturbation.ts';
import type { BundleSignature } from './signing.ts';

/** Version of the bundle layout; loading refuses other versions. */
export const BUNDLE_SCHEMA = 'luxcert.bundle/2';

/** The only files a bundle holds, at fixed names: no path in a manifest can point elsewhere. */
export const BUNDLE_FILES = { model: 'model.onnx', certifier: 'certifier.onnx', manifest: 'manifest.json' } as const;

/** How the runtime searches a frame's certified box. */
export interface SearchSettings {
  boxesPerCall: number;
  budgetMs: number;
  grid: number;
  strategy: string;
}

/** What a bundle's certificates claim: the box they may cover, the tolerance, and the search. */
export interface Claim {
  /** The largest box the runtime may publish; every published box lies inside it and contains (1, 0). */
  maxBox: Box;
  /** Pixels (L∞) a keypoint may move under a certified perturbation. */
  tolerance: number;
  search: SearchSettings;
}

/** `manifest.json`: what the device needs besides the two ONNX files. */
export interface Manifest extends Claim {
  schema: string;
  luxcertVersion: string;
  createdAt: string;
  files: { model: { path: string; sha256: string }; certifier: { path: string; sha256: string } };
  /** The model's metadata, as in `model.onnx` (loading refuses a manifest whose copy differs). */
  meta: ModelMeta;
  signature?: BundleSignature;
}

/** The ranges every claim parameter must lie in, at export and at load. */
export const CLAIM_RANGES = { boxesPerCall: [1, 1024], budgetMs: [0, 600_000], grid: [1, 16] } as const;

/**
 * Checks a claim's parameters against their ranges: a box inside α ∈ (0, 2), β ∈ [−1, 1] around the
 * identity, a tolerance no larger than the input, integer search settings in range.
 */
export function checkClaim(c: Claim, meta: ModelMeta, where: string): void {
  const bad = (field: string, v: unknown, want: string) => new LuxcertError(`${where}: field ${field} = ${JSON.stringify(v)} must be ${want}`);
  try {
    checkBox(c.maxBox);
  } catch (e) {
    throw new LuxcertError(`${where}: field maxBox: ${(e as Error).message}`);
  }
  if (!(c.maxBox.alphaLo > 0)) throw bad('maxBox.alphaLo', c.maxBox.alphaLo, '> 0 (contrast below 1)');
  if (!(c.maxBox.alphaHi < 2)) throw bad('maxBox.alphaHi', c.maxBox.alphaHi, '< 2 (contrast below 1)');
  if (!(c.maxBox.betaLo >= -1)) throw bad('maxBox.betaLo', c.maxBox.betaLo, '≥ −1 (brightness at most 1)');
  if (!(c.maxBox.betaHi <= 1)) throw bad('maxBox.betaHi', c.maxBox.betaHi, '≤ 1 (brightness at most 1)');
  const side = Math.max(...meta.inputSize);
  if (!(Number.isFinite(c.tolerance) && c.tolerance >= 0 && c.tolerance <= side)) throw bad('tolerance', c.tolerance, `a number of pixels in [0, ${side}]`);
  const s = c.search;
  const int = (field: 'boxesPerCall' | 'grid') => {
    const [lo, hi] = CLAIM_RANGES[field];
    if (!(Number.isInteger(s[field]) && s[field] >= lo && s[field] <= hi)) throw bad(`search.${field}`, s[field], `an integer in [${lo}, ${hi}]`);
  };
  int('boxesPerCall');
  int('grid');
  if (!(Number.isFinite(s.budgetMs) && s.budgetMs > 0 && s.budgetMs <= CLAIM_RANGES.budgetMs[1])) throw bad('search.budgetMs', s.budgetMs, `milliseconds in (0, ${CLAIM_RANGES.budgetMs[1]}]`);
}

type Json = Record<string, unknown>;

const fieldPath = (field: string, key: string) => (field ? `${field}.${key}` : key);

/** Reads an object with exactly the given keys (optional ones may be absent). */
function object(v: unknown, field: string, where: string, required: readonly string[], optional: readonly string[] = []): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LuxcertError(`${where}: field ${field || '(top level)'} must be an object`);
  const o = v as Json;
  const missing = required.find((k) => !(k in o));
  if (missing !== undefined) throw new LuxcertError(`${where}: field ${fieldPath(field, missing)} is missing`);
  const extra = Object.keys(o).find((k) => !required.includes(k) && !optional.includes(k));
  if (extra !== undefined) throw new LuxcertError(`${where}: field ${fieldPath(field, extra)} is not part of a ${BUNDLE_SCHEMA} manifest`);
  return o;
}

function string(o: Json, key: string, field: string, where: string, pattern?: RegExp, maxLength = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > maxLength || (pattern && !pattern.test(v))) throw new LuxcertError(`${where}: field ${fieldPath(field, key)} = ${JSON.stringify(v)?.slice(0, 80)} is not valid`);
  return v;
}

function number(o: Json, key: string, field: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new LuxcertError(`${where}: field ${fieldPath(field, key)} = ${JSON.stringify(v)?.slice(0, 80)} must be a finite number`);
  return v;
}

/**
 * Validates parsed `manifest.json` field by field: exact keys, types, fixed file names, hash
 * formats. Claim ranges and agreement with the model are checked once the model is read.
 */
export function checkManifest(json: unknown, where: string): Manifest {
  const top = object(json, '', where, ['schema', 'luxcertVersion', 'createdAt', 'files', 'meta', 'maxBox', 'tolerance', 'search'], ['signature']);
  if (top.schema !== BUNDLE_SCHEMA) throw new LuxcertError(`${where}: field schema = ${JSON.stringify(top.schema)} is not ${BUNDLE_SCHEMA} (export the bundle again with this luxcert)`);
  string(top, 'luxcertVersion', '', where, /^[\w.+-]{1,64}$/);
  string(top, 'createdAt', '', where, /^[\dT:.Z+-]{10,40}$/);
  const files = object(top.files, 'files', where, ['model', 'certifier']);
  for (const which of ['model', 'certifier'] as const) {
    const f = object(files[which], `files.${which}`, where, ['path', 'sha256']);
    if (f.path !== BUNDLE_FILES[which]) throw new LuxcertError(`${where}: field files.${which}.path = ${JSON.stringify(f.path)?.slice(0, 80)} must be ${BUNDLE_FILES[which]} (bundle files have fixed names)`);
    string(f, 'sha256', `files.${which}`, where, /^[0-9a-f]{64}$/);
  }
  object(top.meta, 'meta', where, ['head', 'keypoints', 'skeleton', 'inputSize', 'channels', 'pixelScale', 'cropPadding'], ['grid', 'arch']);
  const box = object(top.maxBox, 'maxBox', where, ['alphaLo', 'alphaHi', 'betaLo', 'betaHi']);
  for (const k of ['alphaLo', 'alphaHi', 'betaLo', 'betaHi']) number(box, k, 'maxBox', where);
  number(top, 'tolerance', '', where);
  const search = object(top.search, 'search', where, ['boxesPerCall', 'budgetMs', 'grid', 'strategy']);
  for (const k of ['boxesPerCall', 'budgetMs', 'grid']) number(search, k, 'search', where);
  string(search, 'strategy', 'search', where, undefined, 1000);
  if (top.signature !== undefined) {
    const sig = object(top.signature, 'signature', where, ['algorithm', 'keyId', 'publicKey', 'value'], ['signer']);
    if (sig.algorithm !== 'ed25519') throw new LuxcertError(`${where}: field signature.algorithm = ${JSON.stringify(sig.algorithm)} is not ed25519`);
    string(sig, 'keyId', 'signature', where, /^sha256:[0-9a-f]{64}$/);
    string(sig, 'publicKey', 'signature', where, /^[A-Za-z0-9+/=]{1,200}$/);
    string(sig, 'value', 'signature', where, /^[A-Za-z0-9+/=]{1,200}$/);
    if (sig.signer !== undefined) string(sig, 'signer', 'signature', where);
  }
  return top as unknown as Manifest;
}
