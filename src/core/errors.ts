/**
 * An error caused by the user's input (a file, a flag, a model). The CLI prints its one-line
 * message and exits 1; anything else is an internal error.
 */
export class LuxcertError extends Error {
  override readonly name = 'LuxcertError';
}
