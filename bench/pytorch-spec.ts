import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Graph } from '../src/graph/graph.ts';
import type { ModelMeta } from '../src/model/metadata.ts';
import { weightRoles } from '../src/train/grad/tape.ts';

/**
 * Writes a graph as `bench/pytorch_ir.py` reads it (`load_spec`): `file`, JSON of its nodes, which
 * weights train, the head that scores it and the caller's `extra` fields, and beside it `file.f32`,
 * every initializer's values as float32 (each at the `offset`, in values, the JSON gives). The values
 * are not JSON so that loading them costs PyTorch's process no more memory than the tensors: as JSON,
 * cnn7's 17 M weights at 64 px took 373 MB of text and their Python floats more, all counted in the
 * peak memory `bench:train` compares.
 */
export function writePytorchSpec(file: string, g: Graph, meta: ModelMeta, extra: Record<string, unknown>): void {
  const initializers: Record<string, { dims: number[]; offset: number }> = {};
  let offset = 0;
  for (const [k, t] of g.initializers) {
    initializers[k] = { dims: [...t.dims], offset };
    offset += t.data.length;
  }
  const values = new Float32Array(offset);
  for (const [k, t] of g.initializers) values.set(t.data, initializers[k]!.offset);
  writeFileSync(`${file}.f32`, values);
  const spec = {
    input: g.inputs[0]!.name, output: g.outputs[0]!.name, head: meta.head, size: meta.inputSize[0], ...(meta.grid ? { grid: meta.grid } : {}),
    trainable: weightRoles(g).params,
    nodes: g.nodes.map((n) => ({ op: n.op, inputs: n.inputs, outputs: n.outputs, attrs: n.attrs })),
    initializers, values: `${basename(file)}.f32`,
    ...extra,
  };
  writeFileSync(file, JSON.stringify(spec));
}
