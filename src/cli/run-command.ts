import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';

/** Wraps a command action: user errors become one line on stderr and exit code 1. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof LuxcertError) {
        process.stderr.write(`luxcert: ${e.message}\n`);
      } else {
        const err = e as Error;
        process.stderr.write(`luxcert: internal error: ${err.message} (rerun with --log-level debug for the stack)\n`);
        log.debug({ stack: err.stack }, 'internal error');
      }
      process.exitCode = 1;
    }
  };
}

/** Prints a result: JSON on stdout with --json, else the human text. */
export function emit(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
