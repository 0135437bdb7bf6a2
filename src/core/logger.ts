import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Log levels the CLI accepts. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function create(level: string): Logger {
  // Logs go to stderr so stdout stays clean for results and --json.
  return process.stderr.isTTY
    ? pino({ level }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }))
    : pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
}

const fromEnv = process.env.LUXCERT_LOG_LEVEL;

/** The process-wide logger: pretty on a terminal, JSON lines otherwise (an unknown LUXCERT_LOG_LEVEL is the CLI's to refuse). */
export let log: Logger = create(fromEnv && (LOG_LEVELS as readonly string[]).includes(fromEnv) ? fromEnv : 'info');

/** Replaces the logger with one at `level`. */
export function setLogLevel(level: string): void {
  log = create(level);
}
