import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** Folders in data-flow order; the shared core is rank 0 and the CLI may use everything. */
const RANK: Record<string, number> = { core: 0, graph: 0, onnx: 0, model: 0, bounds: 0, data: 1, train: 2, prune: 3, certify: 4, experiment: 5, export: 6, runtime: 7, ros: 8, cli: 9 };
/** Within the shared core, the order core → graph → onnx → model → bounds holds too. */
const CORE_ORDER: Record<string, number> = { core: 0, graph: 1, onnx: 2, model: 3, bounds: 4 };

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

it('no module imports a later stage (data → train → prune → certify → export → runtime → ros)', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const from = relative(SRC, file).split('/')[0]!;
    assert.ok(from in RANK, `unknown top-level folder src/${from}: add it to the stage order`);
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = relative(SRC, resolve(dirname(file), m[1]!)).split('/')[0]!;
      const later = RANK[to]! > RANK[from]! || (RANK[to] === 0 && RANK[from] === 0 && CORE_ORDER[to]! > CORE_ORDER[from]!);
      if (later) violations.push(`${relative(SRC, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(violations, []);
});
