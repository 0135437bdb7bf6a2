/** Work done by `fn` (which returns how much it did) called back to back until `seconds` have passed (at least once), and the seconds it took. */
export async function timed(seconds: number, fn: () => Promise<number> | number): Promise<{ done: number; seconds: number }> {
  let done = 0;
  const t0 = performance.now();
  do done += await fn();
  while ((performance.now() - t0) / 1000 < seconds);
  return { done, seconds: (performance.now() - t0) / 1000 };
}

/** Work done per second by `fn` (which returns how much it did), over at least `seconds` after one warm-up call. */
export async function perSecond(seconds: number, fn: () => Promise<number> | number): Promise<number> {
  await fn();
  const t = await timed(seconds, fn);
  return t.done / t.seconds;
}
