import type { Command } from 'commander';
import { formatShape } from '../../core/tensor.ts';
import { inspectModel, type ModelReport } from '../../onnx/inspect-model.ts';
import { compact, table } from '../format.ts';
import { action, emit } from '../run-command.ts';

function human(r: ModelReport): string {
  const io = (v: { name: string; shape: (string | number)[] }[]) => v.map((x) => `${x.name} ${formatShape(x.shape)}`).join(', ');
  const lines = [
    table([
      ['model', `${r.file} (${r.producer || 'unknown producer'}, opset ${r.opset}, IR ${r.irVersion})`],
      ['inputs', io(r.inputs)],
      ['outputs', io(r.outputs)],
      ['operators', Object.entries(r.operators).map(([k, v]) => `${k}×${v}`).join(' ')],
      ['params', `${r.params.toLocaleString('en-US')}${r.supported ? '' : ' (float initializers in the file)'}`],
      ['FLOPs', r.flops === null ? 'n/a (unsupported operators)' : `${compact(r.flops)} per image`],
      ['support', r.supported ? 'every operator is supported' : `NOT supported: ${r.unsupported.map((u) => `${u.op} (node '${u.node}')`).join(', ')}`],
      ...Object.entries(r.metadata).map(([k, v]) => [`meta ${k}`, v]),
    ]),
  ];
  if (r.nodes.length > 0) {
    lines.push('', 'nodes (luxcert IR: BatchNorm folded, Identity removed):');
    lines.push(table([['name', 'op', 'output', 'params', 'FLOPs'], ...r.nodes.map((n) => [n.name, n.op, formatShape(n.outputShape), String(n.params), compact(n.flops)])]));
  }
  return lines.join('\n');
}

/** `luxcert inspect`: operators, shapes, parameters, FLOPs and operator support of an ONNX model. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a model\'s inputs, outputs, operators, parameters, FLOPs and whether luxcert supports it')
    .requiredOption('--model <path>', 'ONNX model file')
    .option('--json', 'machine-readable output')
    .action(
      action((opts: { model: string; json?: boolean }) => {
        const report = inspectModel(opts.model);
        emit(Boolean(opts.json), report, () => human(report));
      }),
    );
}
