// A worker of `ScenePool`: it finishes each composed scene it is sent.
import { parentPort } from 'node:worker_threads';
import { finishScene } from './scene.ts';
import type { SceneReply, SceneRequest } from './scene-pool.ts';

const port = parentPort!;
port.on('message', ({ id, scene }: SceneRequest) => {
  try {
    const image = finishScene(scene);
    port.postMessage({ id, image } satisfies SceneReply, [image.data.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies SceneReply);
  }
});
