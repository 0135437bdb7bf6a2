import { readFileSync, statSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Scalar } from 'yaml';
import { LuxcertError } from '../core/errors.ts';
import { NODE_PARAMS, nodeSettings, type NodeSettings, type ParamName, type ParamType } from './node-params.ts';

/** The node's name; a parameter file's sections for it are `/**`, `luxcert`, `/**\/luxcert` or `/NAMESPACE/luxcert`. */
export const NODE_NAME = 'luxcert';

const MAX_BYTES = 1 << 20;

const TRUE = ['Y', 'y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'];
const FALSE = ['N', 'n', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'];
/** What C's strtol(s, &end, 0) reads whole: decimal, 0x hexadecimal or 0 octal, after blanks, with a sign. */
const STRTOL = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;
/** What C's strtod reads whole: decimal with exponent, inf/infinity/nan (any case), hexadecimal floats. */
const STRTOD = /^\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf(inity)?|nan|0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?)$/i;

/**
 * A scalar typed and read the way ROS 2's parameter-file reader does (rcl_yaml_param_parser's
 * get_value): quoted or tagged !!str is a string; otherwise, in order, one of its bool words, what
 * strtol reads whole (an integer), what strtod reads whole (a double), else a string.
 */
function rosScalar(s: Scalar): { type: 'bool' | 'integer' | 'double' | 'string'; value: boolean | number | string } {
  const quoted = s.type === 'QUOTE_DOUBLE' || s.type === 'QUOTE_SINGLE';
  if (quoted || s.tag === 'tag:yaml.org,2002:str') return { type: 'string', value: String(s.value) };
  const src = s.srcToken && 'source' in s.srcToken ? s.srcToken.source : String(s.value);
  if (TRUE.includes(src)) return { type: 'bool', value: true };
  if (FALSE.includes(src)) return { type: 'bool', value: false };
  const int = STRTOL.exec(src);
  if (int) {
    const digits = int[2]!;
    const v = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : parseInt(digits, 10);
    return { type: 'integer', value: int[1] === '-' ? -v : v };
  }
  if (STRTOD.test(src)) return { type: 'double', value: /^\s*[+-]?0[xX]/.test(src) ? NaN : Number(src.trim().replace(/^([+-]?)inf(inity)?$/i, '$1Infinity').replace(/^[+-]?nan$/i, 'NaN')) };
  return { type: 'string', value: src };
}

/** A parameter's value as ROS 2 would type it, or why the node would refuse it. */
function readValue(name: ParamName, node: YamlNode | null, where: string): unknown {
  const want: ParamType = NODE_PARAMS[name].type;
  const hint = (got: string) => {
    const written = isScalar(node) ? String(rosScalar(node).value) : '';
    const fix = want === 'double' && got === 'integer' ? ` (write ${written}.0: ROS 2 reads ${written} as an integer and refuses it for a double parameter)`
      : want === 'double_array' && got === 'integer_array' ? ' (write every element with a decimal point, e.g. [0.0, 0.0, 64.0]: ROS 2 reads [0, 0, 64] as an integer array)'
      : '';
    return `${where}: ${name} must be ${want.replace('_', ' ')}, is ${got.replace('_', ' ')}${fix}`;
  };
  if (want.endsWith('_array')) {
    if (!isSeq(node)) throw new LuxcertError(hint(isScalar(node) ? rosScalar(node).type : 'a map'));
    if (!node.items.every(isScalar)) throw new LuxcertError(`${where}: ${name} must be a flat list`);
    const items = (node.items as Scalar[]).map(rosScalar);
    const kinds = new Set(items.map((i) => i.type));
    if (kinds.size > 1) throw new LuxcertError(`${where}: ${name} mixes ${[...kinds].join(' and ')} elements (ROS 2 refuses lists of mixed types)`);
    const kind = items[0]?.type ?? (want === 'double_array' ? 'double' : 'string');
    if (`${kind}_array` !== want) throw new LuxcertError(hint(`${kind}_array`));
    return items.map((i) => i.value);
  }
  if (!isScalar(node)) throw new LuxcertError(hint(isSeq(node) ? 'a list' : 'a map'));
  const v = rosScalar(node);
  if (v.type !== want) throw new LuxcertError(hint(v.type));
  return v.value;
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
