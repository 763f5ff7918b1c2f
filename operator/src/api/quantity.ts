/**
 * Kubernetes resource quantities (`10Gi`, `500M`, `1.5Ti`) to bytes, for comparing storage
 * sizes. Only the forms the CRD's pattern admits are accepted; anything else throws an
 * error naming the input.
 */

const FACTORS: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Parses a quantity into a number of base units (bytes for storage). */
export function parseQuantity(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(text.trim());
  if (!match) throw new Error(`invalid quantity ${JSON.stringify(text)}`);
  return Number(match[1]) * (FACTORS[match[2] ?? ''] ?? 1);
}

/** -1, 0 or 1 as `a` is smaller than, equal to or larger than `b`. */
export function compareQuantity(a: string, b: string): number {
  return Math.sign(parseQuantity(a) - parseQuantity(b));
}
