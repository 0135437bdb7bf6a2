import { Worker } from 'node:worker_threads';

/**
 * A worker thread running the TypeScript module `module` through tsx, as the CLI runs luxcert. tsx's
 * `register` is resolved from here, so the worker starts the same under `node --import tsx`, from
 * `bin/luxcert.js` and from any working folder.
 */
export function startTsWorker(module: URL, workerData?: unknown): Worker {
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
