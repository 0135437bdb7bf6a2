/** The q-quantile (0 ≤ q ≤ 1) of a list of numbers, by the nearest-rank rule; 0 for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
