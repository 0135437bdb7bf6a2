import { onnx, type P } from '../onnx/proto.ts';
import { stepName, nextName, type TrainStepModel } from './train-step.ts';

/**
 * `k` copies of a compiled training step in one model, each copy's state inputs the previous copy's
 * next state, so one run takes k steps and the state crosses onnxruntime's API once instead of k times
 * (onnxruntime-node returns every output in a new buffer; docs/training.md, *State between steps*).
 * Each copy is the step as `buildTrainStep` compiled it: step k's inputs and outputs are named
 * `stepName(name, k, steps)` (`image@0`, `loss@3`, …), the constants are shared, and the last copy's
 * next state keeps the step's names (`next:p:NAME`, …). The weights after one run equal those after k
 * runs of the step, bit for bit (tested).
 */
export function chainSteps(step: TrainStepModel, k: number): TrainStepModel {
  if (step.steps !== 1) throw new Error('chainSteps takes a single step');
  if (!Number.isInteger(k) || k < 1) throw new Error(`steps per run must be a whole number ≥ 1, not ${k}`);
  if (k === 1) return step;
  const model = onnx.ModelProto.decode(step.onnx);
  const g = model.graph!;
  const outputNames = new Set(g.output!.map((o) => o.name!));
  const state = new Set(g.input!.map((i) => i.name!).filter((n) => outputNames.has(nextName(n))));
  const nextState = new Set([...state].map(nextName));
  const constants = new Set(g.initializer!.map((t) => t.name!));
  const inputs: P.IValueInfoProto[] = g.input!.filter((i) => state.has(i.name!));
  const nodes: P.INodeProto[] = [];
  const outputs: P.IValueInfoProto[] = [];
  // Where step j reads each state input: the graph's inputs for the first, the step before's next state after.
  let current = new Map([...state].map((s) => [s, s]));
  for (let j = 0; j < k; j++) {
    const last = j === k - 1;
    const rename = (v: string) => (v === '' || constants.has(v) || (last && nextState.has(v)) ? v : current.get(v) ?? stepName(v, j, k));
    for (const i of g.input!) if (!state.has(i.name!)) inputs.push({ ...i, name: stepName(i.name!, j, k) });
    for (const n of g.node!) nodes.push({ ...n, name: stepName(n.name ?? '', j, k), input: n.input!.map(rename), output: n.output!.map(rename) });
    for (const o of g.output!) if (last || !nextState.has(o.name!)) outputs.push({ ...o, name: rename(o.name!) });
    current = new Map([...state].map((s) => [s, stepName(nextName(s), j, k)]));
  }
  const inputShapes = Object.fromEntries(Array.from({ length: k }, (_, j) => Object.entries(step.inputs).map(([name, dims]) => [stepName(name, j, k), dims] as const)).flat());
  return {
    ...step,
    onnx: onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: { ...g, input: inputs, node: nodes, output: outputs } })).finish(),
    inputs: inputShapes,
    steps: k,
  };
}
