import { writeFileAtomic } from './atomic-write.ts';

/** Encodes a float32 array as a NumPy .npy (version 1.0, little-endian, C order). */
export function encodeNpy(dims: readonly number[], data: Float32Array): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Header length (magic + version + length field + text + newline) must be a multiple of 64.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Writes a .npy file atomically. */
export function writeNpy(path: string, dims: readonly number[], data: Float32Array): void {
  writeFileAtomic(path, encodeNpy(dims, data));
}
