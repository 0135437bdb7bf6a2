import { readFileSync } from 'node:fs';
import type { MessageDefinition } from '@foxglove/message-definition';
import { parse } from '@foxglove/rosmsg';

/** The ROS 2 message types luxcert writes, by full name. */
export const MESSAGE_TYPES = [
  'luxcert_msgs/msg/CertifiedKeypoints',
  'foxglove_msgs/msg/ImageAnnotations',
  'sensor_msgs/msg/CompressedImage',
  'sensor_msgs/msg/Image',
  'diagnostic_msgs/msg/DiagnosticArray',
] as const;

/** A message type luxcert writes. */
export type MessageType = (typeof MESSAGE_TYPES)[number];

const PRIMITIVES = new Set(['bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring']);

/** luxcert's own package is the ament package in ros/; standard types are the texts beside this file. */
function msgFile(pkg: string, type: string): URL {
  return pkg === 'luxcert_msgs' ? new URL(`../../ros/luxcert_msgs/msg/${type}.msg`, import.meta.url) : new URL(`./interfaces/${pkg}/${type}.msg`, import.meta.url);
}

/** The complex types (`pkg/Type`) a definition's fields refer to; bare names are in its own package. */
function references(text: string, pkg: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [type, name] = line.split(/\s+/);
    if (!type || !name || name.includes('=') || line.includes('=')) continue;
    const base = type.replace(/\[.*\]$/, '').replace(/<=\d+$/, '');
    if (PRIMITIVES.has(base)) continue;
    out.push(base.includes('/') ? base.replace('/msg/', '/') : `${pkg}/${base}`);
  }
  return out;
}

const cache = new Map<string, { text: string; definitions: MessageDefinition[] }>();

/**
 * The `ros2msg` schema of a type as `ros2 bag` writes it into MCAP files: the type's own text,
 * then each type it depends on, after a line of 80 `=` and `MSG: pkg/Type`.
 */
export function messageSchema(full: MessageType): { text: string; definitions: MessageDefinition[] } {
  return interfaceSchema(full);
}

/** `messageSchema` for any type whose definitions luxcert has, e.g. each luxcert_msgs type on its own. */
export function interfaceSchema(full: string): { text: string; definitions: MessageDefinition[] } {
  let s = cache.get(full);
  if (!s) {
    const [pkg, , type] = full.split('/') as [string, string, string];
    const own = readFileSync(msgFile(pkg, type), 'utf8');
    const parts = [own.trimEnd()];
    const seen = new Set<string>([`${pkg}/${type}`]);
    const queue = references(own, pkg);
    while (queue.length > 0) {
      const dep = queue.shift()!;
      if (seen.has(dep)) continue;
      seen.add(dep);
      const [dpkg, dtype] = dep.split('/') as [string, string];
      const text = readFileSync(msgFile(dpkg, dtype), 'utf8');
      parts.push(`${'='.repeat(80)}\nMSG: ${dep}\n${text.trimEnd()}`);
      queue.push(...references(text, dpkg));
    }
    const text = `${parts.join('\n')}\n`;
    s = { text, definitions: parse(text, { ros2: true }) };
    cache.set(full, s);
  }
  return s;
}
