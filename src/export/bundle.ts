import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LuxcertError } from '../core/errors.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import { buildBoundGraph } from '../bounds/bound-graph.ts';
import { checkBox, type Box } from '../model/perturbation.ts';
import type { Graph } from '../graph/graph.ts';
import type { ModelMeta } from '../model/metadata.ts';
import { encodeOnnx } from '../onnx/write.ts';

/** Version of the bundle layout; loading refuses other versions. */
export const BUNDLE_SCHEMA = 'luxcert.bundle/1';

/** What the device needs besides the two ONNX files (`manifest.json`). */
export interface Manifest {
  schema: string;
  luxcertVersion: string;
  createdAt: string;
  files: { model: { path: string; sha256: string }; certifier: { path: string; sha256: string } };
  meta: ModelMeta;
  /** The largest box the runtime may publish; every published box lies inside it and contains (1, 0). */
  maxBox: Box;
  /** Pixels (L∞) a keypoint may move under a certified perturbation. */
  tolerance: number;
  search: { boxesPerCall: number; budgetMs: number; grid: number; strategy: string };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Options of `luxcert export`. */
export interface ExportOptions {
  maxBox: Box;
  tolerance: number;
  boxesPerCall: number;
  budgetMs: number;
  /** Each candidate box is certified as grid × grid sub-boxes. */
  grid: number;
}

/** The runtime's search strategy, recorded in the manifest. */
export const SEARCH_STRATEGY = 'symmetric scales, refinement, then each side alone and the combination verified; each candidate bounded as grid × grid sub-boxes';

/**
 * Writes a deployable bundle: `model.onnx`, `certifier.onnx` (the bound graph for `boxesPerCall`
 * boxes) and `manifest.json` with content hashes. The folder appears complete or not at all.
 */
export function exportBundle(graph: Graph, meta: ModelMeta, out: string, o: ExportOptions): Manifest {
  checkBox(o.maxBox);
  if (!(o.tolerance >= 0)) throw new LuxcertError(`--tolerance must be ≥ 0, got ${o.tolerance}`);
  const model = encodeOnnx(graph);
  const certifier = encodeOnnx(buildBoundGraph(graph, { boxes: o.boxesPerCall, mode: 'linear' }));
  const manifest: Manifest = {
    schema: BUNDLE_SCHEMA,
    luxcertVersion: LUXCERT_VERSION,
    createdAt: new Date().toISOString(),
    files: { model: { path: 'model.onnx', sha256: sha256(model) }, certifier: { path: 'certifier.onnx', sha256: sha256(certifier) } },
    meta,
    maxBox: o.maxBox,
    tolerance: o.tolerance,
    search: { boxesPerCall: o.boxesPerCall, budgetMs: o.budgetMs, grid: o.grid, strategy: SEARCH_STRATEGY },
  };
  mkdirSync(dirname(join(out, '.')), { recursive: true });
  const tmp = `${out.replace(/\/$/, '')}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, 'model.onnx'), model);
    writeFileSync(join(tmp, 'certifier.onnx'), certifier);
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return manifest;
}

/** A loaded bundle: its manifest and verified file contents. */
export interface Bundle {
  dir: string;
  manifest: Manifest;
  model: Uint8Array;
  certifier: Uint8Array;
}

/** Reads a bundle and checks its schema and every file's hash; any mismatch is a one-line error. */
export function loadBundle(dir: string): Bundle {
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(mpath)) throw new LuxcertError(`${dir}: no manifest.json (not a luxcert bundle)`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(mpath, 'utf8')) as Manifest;
  } catch (e) {
    throw new LuxcertError(`${mpath}: malformed JSON (${(e as Error).message})`);
  }
  if (manifest.schema !== BUNDLE_SCHEMA) throw new LuxcertError(`${mpath}: schema '${manifest.schema}' is not ${BUNDLE_SCHEMA}`);
  const read = (which: 'model' | 'certifier') => {
    const f = manifest.files?.[which];
    if (!f) throw new LuxcertError(`${mpath}: no ${which} file listed`);
    const p = join(dir, f.path);
    if (!existsSync(p)) throw new LuxcertError(`${p}: missing from the bundle`);
    const bytes = readFileSync(p);
    if (sha256(bytes) !== f.sha256) throw new LuxcertError(`${p}: content does not match the manifest's sha256 (altered or corrupt bundle)`);
    return new Uint8Array(bytes);
  };
  checkBox(manifest.maxBox);
  return { dir, manifest, model: read('model'), certifier: read('certifier') };
}
