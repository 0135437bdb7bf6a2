import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the union package registers them all.
import '@tensorflow/tfjs';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { registerWasmConv2dBackpropFilter } from './wasm-conv2d-backprop-filter.ts';

/** Training backends in order of preference; the first that loads wins. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

// Variables, not literals: the native packages are optional and may be absent at type-check time.
const NATIVE: Record<string, string> = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' };

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name in NATIVE) {
      await import(NATIVE[name]!);
      return await tf.setBackend('tensorflow');
    }
    if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
      registerWasmConv2dBackpropFilter();
    } else {
      await import('@tensorflow/tfjs-backend-cpu');
    }
    return await tf.setBackend(name);
  } catch (e) {
    log.debug({ backend: name, reason: (e as Error).message.split('\n')[0] }, 'tfjs backend unavailable');
    return false;
  }
}

let active: string | undefined;

/** Selects the tfjs backend (the given one, or the first of the chain that loads) and logs it. */
export async function initBackend(preferred?: string): Promise<string> {
  if (active && (!preferred || preferred === active)) return active;
  if (preferred !== undefined && !(BACKENDS as readonly string[]).includes(preferred)) {
    throw new LuxcertError(`unknown backend '${preferred}' (${BACKENDS.join(', ')})`);
  }
  for (const name of preferred ? [preferred as BackendName] : BACKENDS) {
    if (await tryBackend(name)) {
      await tf.ready();
      active = name;
      log.info({ backend: name }, 'tfjs backend');
      return name;
    }
  }
  throw new LuxcertError(`tfjs backend ${preferred ?? 'chain'} could not be loaded`);
}
