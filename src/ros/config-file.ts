import { readFileSync, statSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Scalar } from 'yaml';
import { LuxcertError } from '../core/errors.ts';
import { NODE_PARAMS, nodeSettings, type NodeSettings, type ParamName, type ParamType } from './node-params.ts';

/** The node's name; a parameter file's sections for it are `/**`, `luxcert`, `/**\/luxcert` or `/NAMESPACE/luxcert`. */
export const NODE_NAME = 'luxcert';

const MAX_BYTES = 1 << 20;

/** A scalar as written in the file (the parse keeps source tokens). */
const sourceText = (s: Scalar): string => (s.srcToken && 'source' in s.srcToken ? s.srcToken.source : String(s.value)).trim();

/** The parameter type ROS 2's YAML reader (rcl_yaml_param_parser) gives a scalar, from how it is written. */
function rosScalarType(s: Scalar): 'bool' | 'integer' | 'double' | 'string' {
  if (s.type === 'QUOTE_DOUBLE' || s.type === 'QUOTE_SINGLE' || s.type === 'BLOCK_LITERAL' || s.type === 'BLOCK_FOLDED') return 'string';
  const src = sourceText(s);
  if (/^(true|false|yes|no|on|off|y|n)$/i.test(src)) return 'bool';
  if (/^[-+]?\d+$/.test(src)) return 'integer';
  if (/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|\.inf|\.nan)$/i.test(src)) return 'double';
  return 'string';
}

/** A parameter's value as ROS 2 would type it, or why the node would refuse it. */
function readValue(name: ParamName, node: YamlNode | null, where: string): unknown {
  const want: ParamType = NODE_PARAMS[name].type;
  const hint = (got: string) => {
    const fix = want === 'double' && got === 'integer' ? ` (write ${String((node as Scalar).value)}.0: ROS 2 reads ${String((node as Scalar).value)} as an integer and refuses it for a double parameter)`
      : want === 'double_array' && got === 'integer_array' ? ' (write every element with a decimal point, e.g. [0.0, 0.0, 64.0]: ROS 2 reads [0, 0, 64] as an integer array)'
      : '';
    return `${where}: ${name} must be ${want.replace('_', ' ')}, is ${got.replace('_', ' ')}${fix}`;
  };
  if (want.endsWith('_array')) {
    if (!isSeq(node)) throw new LuxcertError(hint(isScalar(node) ? rosScalarType(node) : 'a map'));
    const items = node.items.map((i) => (isScalar(i) ? rosScalarType(i) : 'nested'));
    if (items.includes('nested')) throw new LuxcertError(`${where}: ${name} must be a flat list`);
    const kinds = new Set(items);
    if (kinds.size > 1) throw new LuxcertError(`${where}: ${name} mixes ${[...kinds].join(' and ')} elements (ROS 2 refuses lists of mixed types)`);
    const kind = items[0] ?? (want === 'double_array' ? 'double' : 'string');
    if (`${kind}_array` !== want) throw new LuxcertError(hint(`${kind}_array`));
    return node.items.map((i) => (kind === 'double' ? Number((i as Scalar).value) : String((i as Scalar).value)));
  }
  if (!isScalar(node)) throw new LuxcertError(hint(isSeq(node) ? 'a list' : 'a map'));
  const got = rosScalarType(node);
  if (got !== want) throw new LuxcertError(hint(got));
  if (want === 'string') return String(node.value);
  if (want === 'bool') return /^(true|yes|on|y)$/i.test(sourceText(node));
  return Number(node.value);
}

/** Whether a top-level section of a parameter file applies to the luxcert node in `namespace`. */
function appliesTo(key: string, namespace: string): boolean {
  const ns = `/${namespace.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  return key === '/**' || key === NODE_NAME || key === `/${NODE_NAME}` || key === `/**/${NODE_NAME}` || key === `${ns}/${NODE_NAME}`;
}

/** What a parameter file sets for the node, and the settings that result. */
export interface NodeConfig {
  values: Partial<Record<ParamName, unknown>>;
  settings: NodeSettings;
}

/**
 * Reads a ROS 2 parameter file (the node's `--params-file`, the service's config) the way ROS 2
 * will type it, and validates it as the node would: unknown names (which ROS ignores silently),
 * integers given to double parameters (which ROS refuses at start), bad values, a missing bundle.
 * Refused in one line naming the file and the parameter. `overrides` are what a launch file adds
 * (the bundle, a launch argument).
 */
export function readNodeConfig(path: string, o: { namespace?: string; overrides?: Partial<Record<ParamName, unknown>> } = {}): NodeConfig {
  const namespace = o.namespace ?? NODE_NAME;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new LuxcertError(`${path}: cannot read the parameter file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (size > MAX_BYTES) throw new LuxcertError(`${path}: parameter file of ${size} bytes, more than the ${MAX_BYTES} accepted`);
  const doc = parseDocument(readFileSync(path, 'utf8'), { keepSourceTokens: true, uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) throw new LuxcertError(`${path}: not YAML: ${err.message.split('\n')[0]}`);
  if (!isMap(doc.contents)) throw new LuxcertError(`${path}: a ROS 2 parameter file is a map of node names to { ros__parameters: … }`);
  const values: Partial<Record<ParamName, unknown>> = {};
  let sections = 0;
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!appliesTo(key, namespace)) continue;
    sections++;
    const section = pair.value as YamlNode | null;
    if (!isMap(section) || section.items.length !== 1 || !isScalar(section.items[0]!.key) || section.items[0]!.key.value !== 'ros__parameters' || !isMap(section.items[0]!.value)) {
      throw new LuxcertError(`${path}: section '${key}' must hold exactly one key, ros__parameters, with a map of parameters`);
    }
    for (const p of section.items[0]!.value.items) {
      const name = isScalar(p.key) ? String(p.key.value) : '';
      const where = `${path}: '${key}'`;
      if (!(name in NODE_PARAMS)) throw new LuxcertError(`${where}: unknown parameter '${name}' (ROS 2 would ignore it silently; the node's parameters are listed in docs/ros.md)`);
      values[name as ParamName] = readValue(name as ParamName, p.value as YamlNode | null, where);
    }
  }
  if (sections === 0) throw new LuxcertError(`${path}: no section for the node (expected '/**', '${NODE_NAME}' or '/${namespace.replace(/^\/+/, '')}/${NODE_NAME}' with ros__parameters)`);
  try {
    return { values, settings: nodeSettings({ ...values, ...o.overrides }) };
  } catch (e) {
    throw new LuxcertError(`${path}: ${(e as Error).message}`);
  }
}
