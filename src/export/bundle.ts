import { createHash, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../core/canonical-json.ts';
import { previousDirName, replaceDirAtomic } from '../core/atomic-write.ts';
import { LuxcertError } from '../core/errors.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import { buildBoundGraph } from '../bounds/bound-graph.ts';
import type { Graph } from '../graph/graph.ts';
import { modelMeta, setModelMeta, type ModelMeta } from '../model/metadata.ts';
import type { Box } from '../model/perturbation.ts';
import { decodeOnnx, rawToGraph } from '../onnx/read.ts';
import { encodeOnnx } from '../onnx/write.ts';
import { checkManifest, checkClaim, type Claim, type Manifest, BUNDLE_FILES, BUNDLE_SCHEMA } from './manifest.ts';
import { keyId, signatureKey, signerOf, signPayload, verifyPayload } from './signing.ts';

/** Size limits of what a bundle may hold, checked before anything is read. */
export const BUNDLE_LIMITS = { manifestBytes: 1 << 20, modelBytes: 1 << 30, certifierBytes: 1 << 30 } as const;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Options of `luxcert export`. */
export interface ExportOptions {
  maxBox: Box;
  tolerance: number;
  boxesPerCall: number;
  budgetMs: number;
  /** The per-frame search starts from the maximum box cut into grid × grid sub-boxes. */
  grid: number;
  /** Sign the manifest with this Ed25519 private key, naming `signer`. */
  sign?: { key: KeyObject; signer?: string };
}

/** The runtime's search strategy, recorded in the manifest. */
export const SEARCH_STRATEGY = 'anytime branch-and-bound over sub-boxes of the maximum box (first cut grid × grid), nearest the identity first, each halved across the side that moves the image more; sub-boxes unproven at 1/64 of the box are given up; a frame of a stream splits, without bounding them, the sub-boxes holding one its last 3 frames failed on while every keypoint stays within the tolerance of the last frame\'s; the published box is the furthest-reaching box around the identity that avoids every given-up or still-unproven sub-box';

/**
 * The certifier of a model for a claim: the bound graph of the model as luxcert imports it from
 * `model.onnx`, tagged with the claim and the model's hash. Export writes it and load rebuilds
 * and compares it, so a bundle's certifier is provably the one for its model and its claim.
 */
function certifierFor(model: Graph, modelSha: string, claim: Claim): { graph: Graph; bytes: Uint8Array } {
  const graph = buildBoundGraph(model, { boxes: claim.search.boxesPerCall, mode: 'linear' });
  graph.metadata['luxcert.bundle.claim'] = canonicalJson({ modelSha256: modelSha, maxBox: claim.maxBox, tolerance: claim.tolerance, search: claim.search });
  return { graph, bytes: encodeOnnx(graph) };
}

/** The bytes a signature covers: the canonical manifest without the signature's value. */
function signedPayload(m: Manifest): string {
  const { signature, ...rest } = m;
  if (!signature) return canonicalJson(rest);
  const { value: _value, ...who } = signature;
  return canonicalJson({ ...rest, signature: who });
}

/**
 * Whether a folder may be replaced by a bundle: absent, empty, or a luxcert bundle holding
 * nothing but bundle files. Anything else is refused, so export never deletes a user's files.
 */
function checkReplaceable(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new LuxcertError(`--out ${out} is a file, not a bundle folder; nothing was changed`);
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  const known = new Set<string>(Object.values(BUNDLE_FILES));
  const foreign = entries.filter((e) => !known.has(e));
  let schema: unknown;
  try {
    schema = (JSON.parse(readFileSync(join(out, BUNDLE_FILES.manifest), 'utf8')) as { schema?: unknown }).schema;
  } catch {
    schema = undefined;
  }
  if (typeof schema !== 'string' || !schema.startsWith('luxcert.bundle/') || foreign.length > 0) {
    throw new LuxcertError(`--out ${out} is a folder that is not a luxcert bundle (${foreign.length > 0 ? `it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}` : 'no luxcert manifest'}); nothing was changed — give a new or empty folder`);
  }
}

/**
 * Writes a deployable bundle: `model.onnx` (with its metadata), `certifier.onnx` (the bound graph
 * for `boxesPerCall` boxes, bound to the model and the claim) and `manifest.json`, optionally
 * signed. An existing bundle at `out` is replaced atomically; any other non-empty folder is refused.
 */
export function exportBundle(graph: Graph, meta: ModelMeta, out: string, o: ExportOptions): Manifest {
  checkReplaceable(out);
  const claim: Claim = { maxBox: o.maxBox, tolerance: o.tolerance, search: { boxesPerCall: o.boxesPerCall, budgetMs: o.budgetMs, grid: o.grid, strategy: SEARCH_STRATEGY } };
  checkClaim(claim, meta, 'export');
  setModelMeta(graph, meta);
  const model = encodeOnnx(graph);
  const modelSha = sha256(model);
  // The certifier is built from the model exactly as a device will import it.
  const imported = rawToGraph(decodeOnnx(model, `${out}/${BUNDLE_FILES.model}`));
  const certifier = certifierFor(imported, modelSha, claim).bytes;
  const manifest: Manifest = {
    schema: BUNDLE_SCHEMA,
    luxcertVersion: LUXCERT_VERSION,
    createdAt: new Date().toISOString(),
    files: { model: { path: BUNDLE_FILES.model, sha256: modelSha }, certifier: { path: BUNDLE_FILES.certifier, sha256: sha256(certifier) } },
    meta: modelMeta(imported, `${out}/${BUNDLE_FILES.model}`),
    ...claim,
  };
  if (o.sign) {
    manifest.signature = { ...signerOf(o.sign.key, o.sign.signer), value: '' };
    manifest.signature.value = signPayload(signedPayload(manifest), o.sign.key);
  }
  replaceDirAtomic(out, { [BUNDLE_FILES.model]: model, [BUNDLE_FILES.certifier]: certifier, [BUNDLE_FILES.manifest]: JSON.stringify(manifest, null, 2) });
  return manifest;
}

/** A loaded, verified bundle: its manifest, file contents, the imported model and its certifier. */
export interface Bundle {
  dir: string;
  manifest: Manifest;
  model: Uint8Array;
  certifier: Uint8Array;
  /** The certifier's graph, rebuilt from the model and equal to `certifier`. */
  certifierGraph: Graph;
  /** Key id of the signature that was verified, when the bundle is signed. */
  signedBy?: string;
}

/** What `loadBundle` requires beyond integrity. */
export interface TrustOptions {
  /** Public keys whose signatures are accepted; when given, an unsigned bundle is refused. */
  trust?: KeyObject[];
}

function readBounded(path: string, limit: number, what: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new LuxcertError(`${path}: missing from the bundle`);
  }
  if (!st.isFile()) throw new LuxcertError(`${path}: ${what} is not a regular file`);
  if (st.size > limit) throw new LuxcertError(`${path}: ${st.size} bytes is over the ${limit}-byte limit for a ${what}`);
  return new Uint8Array(readFileSync(path));
}

/**
 * Reads a bundle and refuses it, in one line naming the file and field, unless: the manifest is
 * well formed field by field; any signature verifies (and, with `trust`, one of those keys made
 * it); both files match their hashes; luxcert imports the model; the manifest's metadata is the
 * model's own; and the certifier is exactly the one luxcert builds from the model for the claim.
 */
export function loadBundle(dir: string, t: TrustOptions = {}): Bundle {
  const mpath = join(dir, BUNDLE_FILES.manifest);
  if (!existsSync(mpath)) {
    const prev = previousDirName(dir);
    throw new LuxcertError(`${dir}: no ${BUNDLE_FILES.manifest} (not a luxcert bundle)${existsSync(prev) ? `; an interrupted export left the previous bundle at ${prev}` : ''}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(readBounded(mpath, BUNDLE_LIMITS.manifestBytes, 'manifest')));
  } catch (e) {
    if (e instanceof LuxcertError) throw e;
    throw new LuxcertError(`${mpath}: malformed JSON (${(e as Error).message})`);
  }
  const manifest = checkManifest(json, mpath);
  let signedBy: string | undefined;
  if (manifest.signature) {
    const key = signatureKey(manifest.signature);
    if (!key || !verifyPayload(signedPayload(manifest), manifest.signature, key)) throw new LuxcertError(`${mpath}: field signature does not verify (the manifest was altered after signing, or the signature is corrupt)`);
    signedBy = manifest.signature.keyId;
  }
  if (t.trust) {
    if (!signedBy) throw new LuxcertError(`${mpath}: the bundle is not signed, and --trust requires a signature by a trusted key`);
    const trusted = new Set(t.trust.map(keyId));
    if (!trusted.has(signedBy)) throw new LuxcertError(`${mpath}: field signature.keyId ${signedBy} is not one of the trusted keys`);
  }
  const read = (which: 'model' | 'certifier') => {
    const p = join(dir, BUNDLE_FILES[which]);
    const bytes = readBounded(p, which === 'model' ? BUNDLE_LIMITS.modelBytes : BUNDLE_LIMITS.certifierBytes, which);
    if (sha256(bytes) !== manifest.files[which].sha256) throw new LuxcertError(`${p}: content does not match field files.${which}.sha256 of the manifest (altered or corrupt bundle)`);
    return bytes;
  };
  const model = read('model');
  const certifier = read('certifier');
  const mfile = join(dir, BUNDLE_FILES.model);
  const graph = rawToGraph(decodeOnnx(model, mfile));
  const meta = modelMeta(graph, mfile);
  if (canonicalJson(meta) !== canonicalJson(manifest.meta)) throw new LuxcertError(`${mpath}: field meta does not match the metadata of ${BUNDLE_FILES.model} (the manifest was edited)`);
  checkClaim(manifest, meta, mpath);
  const rebuilt = certifierFor(graph, manifest.files.model.sha256, manifest);
  if (sha256(rebuilt.bytes) !== manifest.files.certifier.sha256) {
    throw new LuxcertError(`${join(dir, BUNDLE_FILES.certifier)}: not the certifier of ${BUNDLE_FILES.model} for the manifest's claim (maxBox, tolerance, search) — altered bundle, or made by another luxcert version (${manifest.luxcertVersion}; this is ${LUXCERT_VERSION}): export it again`);
  }
  return { dir, manifest, model, certifier, certifierGraph: rebuilt.graph, ...(signedBy ? { signedBy } : {}) };
}
