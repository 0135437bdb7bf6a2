import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';

/** The generated ONNX protobuf classes (onnx.proto, IR version 8). */
export const onnx = onnxProto.onnx;
/** Type namespace of the generated classes (onnx.IModelProto, …). */
export type { OnnxNamespace as P };

/** A protobuf int64 as a number (values luxcert reads are far below 2^53). */
export function num(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
