import type { Graph } from '../graph.ts';
import { dropUnusedInitializers } from './drop-unused.ts';
import { foldBatchNorms } from './fold-batchnorm.ts';
import { removeIdentities } from './remove-identity.ts';

/** The import-time clean-up: Identity removal, BatchNorm folding, unused weights dropped. Idempotent. */
export function simplifyGraph(graph: Graph): void {
  removeIdentities(graph);
  foldBatchNorms(graph);
  dropUnusedInitializers(graph);
}
