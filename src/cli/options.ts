import { LuxcertError } from '../core/errors.ts';

/** Parses a numeric flag; a bad value is a one-line error naming the flag. */
export function numberFlag(flag: string, value: string | undefined, opts: { integer?: boolean; min?: number; positive?: boolean; max?: number } = {}): number {
  const v = Number(value);
  const ok = value !== undefined && value.trim() !== '' && Number.isFinite(v) && (!opts.integer || Number.isInteger(v)) && (opts.min === undefined || v >= opts.min) && (!opts.positive || v > 0);
  if (!ok) {
    const what = `${opts.integer ? 'an integer' : 'a number'}${opts.positive ? ' > 0' : opts.min !== undefined ? ` ≥ ${opts.min}` : ''}`;
    throw new LuxcertError(`${flag} must be ${what}, got '${value}'`);
  }
  if (opts.max !== undefined && v > opts.max) throw new LuxcertError(`${flag} must be at most ${opts.max}, got '${value}'`);
  return v;
}
