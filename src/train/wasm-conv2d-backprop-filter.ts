import { backend_util, getKernel, registerKernel, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  readSync(dataId: unknown): Float32Array;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/**
 * The filter gradient of a 2-D convolution, NHWC, for any stride, padding and dilation:
 * dW[fh,fw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh + fh·dh − top, ow·sw + fw·dw − left, ci] · dy[n,oh,ow,co].
 * tfjs-backend-wasm 4.22 has no kernel for it, so training on wasm cannot compute Conv2D gradients.
 */
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: backend_util.Conv2DInfo): Float32Array {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const acc = new Float64Array(FH * FW * CI * CO);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dyOff = ((n * OH + oh) * OW + ow) * CO;
        for (let fh = 0; fh < FH; fh++) {
          const ih = oh * sh + fh * dh - top;
          if (ih < 0 || ih >= H) continue;
          for (let fw = 0; fw < FW; fw++) {
            const iw = ow * sw + fw * dw - left;
            if (iw < 0 || iw >= W) continue;
            const xOff = ((n * H + ih) * W + iw) * CI;
            const wOff = (fh * FW + fw) * CI * CO;
            for (let ci = 0; ci < CI; ci++) {
              const xv = x[xOff + ci]!;
              if (xv === 0) continue; // post-ReLU activations are often zero
              const row = wOff + ci * CO;
              for (let co = 0; co < CO; co++) acc[row + co]! += xv * dy[dyOff + co]!;
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

const config: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as { strides: [number, number] | number; pad: 'valid' | 'same' | number | backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
    if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const b = backend as unknown as WasmBackendLike;
    const dW = conv2dBackpropFilter(b.readSync(x.dataId), b.readSync(dy.dataId), info);
    const out = b.makeOutput(a.filterShape, 'float32');
    b.typedArrayFromHeap(out).set(dW);
    return out;
  },
};

/** Registers the missing wasm Conv2DBackpropFilter kernel (once). */
export function registerWasmConv2dBackpropFilter(): void {
  if (!getKernel('Conv2DBackpropFilter', 'wasm')) registerKernel(config);
}
