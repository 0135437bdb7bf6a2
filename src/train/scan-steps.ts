import * as ort from 'onnxruntime-node';
import { onnx, type P } from '../onnx/proto.ts';
import { nextName, type TrainStepModel } from './train-step.ts';

/** The leading dimension of a scanned step's per-step inputs and outputs: the steps of the run. */
const STEPS_DIM = 'steps';

/**
 * The compiled training step as the body of an ONNX `Scan`: one run takes as many steps as it is
 * given batches, the state carried from step to step inside onnxruntime and crossing its API once
 * per run (onnxruntime-node returns every output in a new buffer; docs/training.md, *State between
 * steps*). The state keeps the step's names (`p:NAME` in, `next:p:NAME` out); every other input and
 * output is stacked along a first axis of steps (`image` [S, B, C, H, W], `lr_t` [S], `loss` [S]; see
 * `stackFeeds`). The body is the step as `buildTrainStep` compiled it, not a second definition: its
 * interface values are renamed (`image@step`, …) only so that no name is declared twice across the
 * two scopes. onnxruntime plans the body's memory once and frees each step's intermediates as that
 * step ends, so a run of several peaks where one step does (k copies of the step in one flat graph
 * kept the first step's buffers for the later copies: 1.7–1.9× the peak), plus the Scan's buffers
 * for the carried state: one more copy of the state in a run of two steps, two from three on.
 */
export function scanSteps(step: TrainStepModel): TrainStepModel {
  if (step.scanned) throw new Error('scanSteps takes a single step');
  const model = onnx.ModelProto.decode(step.onnx);
  const g = model.graph!;
  const outputNames = new Set(g.output!.map((o) => o.name!));
  const isState = (name: string) => outputNames.has(nextName(name));
  const state = g.input!.filter((i) => isState(i.name!));
  const perStep = g.input!.filter((i) => !isState(i.name!));
  const nextState = state.map((i) => g.output!.find((o) => o.name === nextName(i.name!))!);
  const perStepOut = g.output!.filter((o) => !nextState.includes(o));
  const inner = new Map([...g.input!, ...g.output!].map((v) => [v.name!, `${v.name}@step`]));
  const rename = (v: string) => inner.get(v) ?? v;
  const renamed = (v: P.IValueInfoProto, type = v.type): P.IValueInfoProto => ({ ...v, name: rename(v.name!), ...(type ? { type } : {}) });
  const body: P.IGraphProto = {
    ...g,
    name: 'step',
    input: [...state, ...perStep].map((v) => renamed(v)),
    node: g.node!.map((n) => ({ ...n, input: n.input!.map(rename), output: n.output!.map(rename) })),
    // The next state has the state's type; the step's own outputs are declared without one.
    output: [...nextState.map((o, i) => renamed(o, state[i]!.type)), ...perStepOut.map((o) => renamed(o))],
  };
  const stacked = (v: P.IValueInfoProto): P.IValueInfoProto => {
    const dims = v.type?.tensorType?.shape?.dim;
    return dims ? { name: v.name!, type: { tensorType: { ...v.type!.tensorType!, shape: { dim: [{ dimParam: STEPS_DIM }, ...dims] } } } } : { name: v.name! };
  };
  const graph: P.IGraphProto = {
    name: `${g.name}_scan`,
    input: [...state, ...perStep.map(stacked)],
    output: [...nextState.map((o, i) => ({ name: o.name!, type: state[i]!.type })), ...perStepOut.map((o) => ({ name: o.name! }))],
    node: [{
      opType: 'Scan',
      name: 'steps',
      input: [...state, ...perStep].map((v) => v.name!),
      output: [...nextState, ...perStepOut].map((v) => v.name!),
      attribute: [
        { name: 'num_scan_inputs', type: onnx.AttributeProto.AttributeType.INT, i: perStep.length },
        { name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body },
      ],
    }],
  };
  return { ...step, onnx: onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph })).finish(), scanned: true };
}

/** The per-step feeds of a run's steps (each step's `image`, `lr_t`, …; of one batch size) stacked along a first axis of steps, as a scanned step takes them. */
export function stackFeeds(steps: Record<string, ort.Tensor>[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(steps[0] ?? {})) {
    const parts = steps.map((s) => s[name]);
    const first = parts[0]!;
    if (parts.some((t) => t === undefined || t.dims.join() !== first.dims.join())) throw new Error(`steps of one run differ in their '${name}'`);
    const size = first.data.length;
    const data = new Float32Array(size * parts.length);
    parts.forEach((t, k) => data.set(t!.data as Float32Array, k * size));
    out[name] = new ort.Tensor('float32', data, [parts.length, ...first.dims]);
  }
  return out;
}
