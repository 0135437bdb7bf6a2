import { Command, Option } from 'commander';
import { LOG_LEVELS, setLogLevel } from '../core/logger.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import { registerCertify } from './commands/certify.ts';
import { registerData } from './commands/data.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerDemo } from './commands/demo.ts';
import { registerEval } from './commands/eval.ts';
import { registerExport } from './commands/export.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerKeygen } from './commands/keygen.ts';
import { registerExperiment } from './commands/experiment.ts';
import { registerPrune } from './commands/prune.ts';
import { registerReport } from './commands/report.ts';
import { registerRos } from './commands/ros.ts';
import { registerRun } from './commands/run.ts';
import { registerTrain } from './commands/train.ts';

const program = new Command('luxcert')
  .description('Certified keypoint detection under brightness/contrast changes: train, prune, certify, export, run.')
  .version(LUXCERT_VERSION)
  .addOption(new Option('--log-level <level>', 'log verbosity (logs go to stderr)').choices(LOG_LEVELS).env('LUXCERT_LOG_LEVEL').default('info'))
  .showHelpAfterError('(run with --help for usage)')
  .hook('preAction', (cmd) => setLogLevel(cmd.opts<{ logLevel: string }>().logLevel));

registerInspect(program);
registerData(program);
registerTrain(program);
registerEval(program);
registerPrune(program);
registerCertify(program);
registerExport(program);
registerRun(program);
registerRos(program);
registerReport(program);
registerKeygen(program);
registerDoctor(program);
registerDemo(program);
registerExperiment(program);

await program.parseAsync(process.argv);
