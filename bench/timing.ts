/** Work done per second by `fn` (which returns how much it did), over at least `seconds` after one warm-up call. */
export async function perSecond(seconds: number, fn: () => Promise<number> | number): Promise<number> {
  await fn();
  let done = 0;
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < seconds) done += await fn();
  return done / ((performance.now() - t0) / 1000);
}
