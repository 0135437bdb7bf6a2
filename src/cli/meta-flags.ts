import type { Command } from 'commander';
import type { MetaFlags } from '../model/metadata.ts';

/** Values of the model-metadata flags. */
export type MetaFlagValues = MetaFlags;

/** Adds the flags that describe a model from elsewhere (or override luxcert's metadata). */
export function addMetaFlags(cmd: Command): Command {
  return cmd
    .option('--head <type>', 'keypoint head: regression | heatmap (for models without luxcert metadata)')
    .option('--grid <g>', 'heatmap grid size')
    .option('--keypoints <names>', 'comma-separated keypoint names')
    .option('--skeleton <json>', 'keypoint pairs as JSON, 0-based, e.g. [[0,1],[1,2]]')
    .option('--input-size <HxW>', 'model input size, e.g. 32 or 32x32')
    .option('--crop-padding <f>', 'crop side as a multiple of the bbox\'s longer side');
}
