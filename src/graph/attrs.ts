import { LuxcertError } from '../core/errors.ts';
import type { Node } from './graph.ts';

/** An integer attribute, or `fallback`. */
export function intAttr(node: Node, name: string, fallback: number): number {
  const v = node.attrs[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw new LuxcertError(`${node.op} node '${node.name}': attribute ${name} must be a number`);
  return v;
}

/** A float attribute, or `fallback`. */
export const floatAttr = intAttr;

/** A list-of-ints attribute, or `fallback`. */
export function intsAttr(node: Node, name: string, fallback: number[]): number[] {
  const v = node.attrs[name];
  if (v === undefined) return fallback;
  if (!Array.isArray(v)) throw new LuxcertError(`${node.op} node '${node.name}': attribute ${name} must be a list`);
  return v;
}

/** A string attribute, or `fallback`. */
export function stringAttr(node: Node, name: string, fallback: string): string {
  const v = node.attrs[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string') throw new LuxcertError(`${node.op} node '${node.name}': attribute ${name} must be a string`);
  return v;
}
