/**
 * Distance metrics, shared by the index worker (internal distances, as hnswlib computes
 * them) and the API (the user-facing `distance` and `score`).
 *
 * Internal distance (smaller is nearer), matching hnswlib's spaces so exact and HNSW
 * results merge: `l2` squared Euclidean; `cosine` 1 − cos(q, x) (both normalised);
 * `dot` 1 − q·x.
 *
 * User-facing, per result row:
 * | metric | distance            | score             |
 * |--------|---------------------|-------------------|
 * | l2     | ‖q − x‖ (Euclidean) | 1 / (1 + distance) |
 * | cosine | 1 − cos(q, x)       | cos(q, x)         |
 * | dot    | −q·x                | q·x               |
 */
import type { MetricName } from '../config.ts';

/** hnswlib space name for a metric. */
export function hnswSpace(metric: MetricName): 'l2' | 'cosine' | 'ip' {
  return metric === 'dot' ? 'ip' : metric;
}

/**
 * Parses a metric name as found in `longbow.metric` schema metadata, accepting the Go
 * original's spellings (`euclidean`, `dot_product`). Returns undefined when unknown.
 */
export function parseMetric(value: string): MetricName | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'l2' || v === 'euclidean') return 'l2';
  if (v === 'cosine') return 'cosine';
  if (v === 'dot' || v === 'dot_product' || v === 'ip' || v === 'inner_product') return 'dot';
  return undefined;
}

/** Squared Euclidean distance between `q` and `x[offset .. offset+dim)`. */
export function l2Squared(q: Float32Array, x: Float32Array, offset: number): number {
  let sum = 0;
  for (let i = 0; i < q.length; i++) {
    const d = q[i]! - x[offset + i]!;
    sum += d * d;
  }
  return sum;
}

/** Dot product of `q` and `x[offset .. offset+dim)`. */
export function dot(q: Float32Array, x: Float32Array, offset: number): number {
  let sum = 0;
  for (let i = 0; i < q.length; i++) sum += q[i]! * x[offset + i]!;
  return sum;
}

/** Euclidean norm of `x[offset .. offset+dim)`. */
export function norm(x: Float32Array, offset: number, dim: number): number {
  let sum = 0;
  for (let i = 0; i < dim; i++) sum += x[offset + i]! * x[offset + i]!;
  return Math.sqrt(sum);
}

/**
 * Internal distance function for exact search. For cosine, `q` must already be
 * normalised; the stored vector's norm is computed here.
 */
export function internalDistance(
  metric: MetricName,
): (q: Float32Array, x: Float32Array, offset: number) => number {
  if (metric === 'l2') return l2Squared;
  if (metric === 'dot') return (q, x, o) => 1 - dot(q, x, o);
  return (q, x, o) => {
    const n = norm(x, o, q.length);
    return n === 0 ? 1 : 1 - dot(q, x, o) / n;
  };
}

/** Converts an internal distance into the user-facing distance and score. */
export function userDistanceAndScore(
  metric: MetricName,
  internal: number,
): { distance: number; score: number } {
  if (metric === 'l2') {
    const distance = Math.sqrt(Math.max(0, internal));
    return { distance, score: 1 / (1 + distance) };
  }
  if (metric === 'cosine') return { distance: internal, score: 1 - internal };
  const product = 1 - internal;
  return { distance: -product, score: product };
}

/** Returns a unit-length copy of `v` (zero vectors are returned unchanged). */
export function normalized(v: Float32Array): Float32Array {
  const n = norm(v, 0, v.length);
  const out = new Float32Array(v.length);
  if (n === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}
