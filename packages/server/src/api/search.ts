/**
 * Search: k-NN (HNSW, or an exact scan when a filter keeps few rows), BM25 full text, and
 * hybrid — both fused by weighted Reciprocal Rank Fusion (Cormack, Clarke & Büttcher,
 * "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning Methods",
 * SIGIR 2009):
 *
 *   fused(d) = α / (60 + rank_vector(d)) + (1 − α) / (60 + rank_text(d))
 *
 * with 1-based ranks in each list (a list that misses d contributes 0). α = 1 is vector
 * only, α = 0 text only; default 0.5. Each list contributes its best max(k, 100)
 * candidates.
 *
 * Answer rows per query, best first: the row's ordinal, the user-facing vector distance
 * (NaN when the query has no vector), and the score — the metric's similarity for k-NN, the
 * BM25 score for text only, the fused RRF score for hybrid.
 */
import type { NodeConfig } from '../config.ts';
import { ErrorCode, LongbowError } from '../errors.ts';
import { internalDistance, normalized, userDistanceAndScore } from '../index/metric.ts';
import { TopK } from '../index/top-k.ts';
import { Dataset, type IdKey } from '../store/dataset.ts';
import { compileFilter } from '../store/filter.ts';
import type { SearchTicket } from './tickets.ts';

/** The RRF constant k from the paper. */
export const RRF_K = 60;
/** Candidates each list contributes to fusion, at least. */
export const FUSION_WINDOW_MIN = 100;

/** One query's results, best first. */
export interface RankedHits {
  ordinals: number[];
  distances: number[];
  scores: number[];
}

/** What kind of search ran (the `kind` label of longbow_search_duration_seconds). */
export type SearchKind = 'knn' | 'filtered' | 'exact' | 'text' | 'hybrid';

/** Throws NON_FINITE_VECTOR when query number `index` holds a NaN or an infinity. */
export function checkQueryValues(query: Float32Array, index: number): void {
  if (!query.every(Number.isFinite)) {
    throw new LongbowError(ErrorCode.nonFiniteVector, `query ${index} has a NaN or infinite value`);
  }
}

/** The query vectors of a ticket: given ones, or the vector of the row with `id`. */
export function queryVectors(ds: Dataset, t: SearchTicket): Float32Array[] {
  if (t.vectors) {
    return t.vectors.map((v, q) => {
      if (v.length !== ds.def.dim) {
        throw new LongbowError(
          ErrorCode.dimensionMismatch,
          `query ${q} has dimension ${v.length}; dataset "${ds.name}" has dimension ${ds.def.dim}`,
        );
      }
      const f = Float32Array.from(v);
      checkQueryValues(f, q);
      return f;
    });
  }
  if (t.id !== undefined) {
    let key: IdKey;
    try {
      key = ds.def.idType === 'utf8' ? String(t.id) : BigInt(t.id);
    } catch {
      throw new LongbowError(
        ErrorCode.invalidQuery,
        `"id" ${JSON.stringify(t.id)} is not a ${ds.def.idType} id`,
      );
    }
    const ordinal = ds.ordinalOf(key);
    if (ordinal === undefined)
      throw new LongbowError(
        ErrorCode.invalidQuery,
        `dataset "${ds.name}" has no row with id ${String(t.id)}`,
      );
    return [ds.vectorOf(ordinal).slice()];
  }
  return [];
}

/** Exact k-NN over the given rows (for selective filters). Internal distances. */
function exactSearch(
  ds: Dataset,
  query: Float32Array,
  rows: readonly number[],
  k: number,
): { labels: number[]; distances: number[] } {
  const dist = internalDistance(ds.def.metric);
  const q = ds.def.metric === 'cosine' ? normalized(query) : query;
  const top = new TopK(k);
  for (const ordinal of rows) {
    const v = ds.vectorOf(ordinal);
    top.push(ordinal, dist(q, v, 0));
  }
  return top.sorted();
}

function toUser(ds: Dataset, labels: ArrayLike<number>, distances: ArrayLike<number>): RankedHits {
  const out: RankedHits = { ordinals: [], distances: [], scores: [] };
  for (let i = 0; i < labels.length; i++) {
    const ordinal = labels[i]!;
    if (!ds.isLive(ordinal)) continue; // deleted after the search was posted
    const { distance, score } = userDistanceAndScore(ds.def.metric, distances[i]!);
    out.ordinals.push(ordinal);
    out.distances.push(distance);
    out.scores.push(score);
  }
  return out;
}

/** The user-facing distances between `query` and rows (the query is normalised once). */
function distancesTo(ds: Dataset, query: Float32Array, ordinals: readonly number[]): number[] {
  const q = ds.def.metric === 'cosine' ? normalized(query) : query;
  const dist = internalDistance(ds.def.metric);
  return ordinals.map((o) => userDistanceAndScore(ds.def.metric, dist(q, ds.vectorOf(o), 0)).distance);
}

/** Weighted RRF of two ranked lists of ordinals; returns the best `k`. */
export function fuseRrf(
  vector: readonly number[],
  text: readonly number[],
  alpha: number,
  k: number,
): { ordinals: number[]; scores: number[] } {
  const fused = new Map<number, number>();
  vector.forEach((o, i) => {
    if (alpha > 0) fused.set(o, (fused.get(o) ?? 0) + alpha / (RRF_K + i + 1));
  });
  text.forEach((o, i) => {
    if (alpha < 1) fused.set(o, (fused.get(o) ?? 0) + (1 - alpha) / (RRF_K + i + 1));
  });
  const top = new TopK(k);
  for (const [o, s] of fused) top.push(o, -s);
  const { labels, distances } = top.sorted();
  return { ordinals: labels, scores: distances.map((d) => -d) };
}

/** Runs a search ticket against a dataset; one RankedHits per query. */
export async function runSearch(
  ds: Dataset,
  t: SearchTicket,
  config: Pick<NodeConfig, 'hnswEf' | 'filterBruteForceRows'>,
  streamedQueries?: Float32Array[],
): Promise<{ hits: RankedHits[]; kind: SearchKind }> {
  if (t.textQuery !== undefined && !ds.text) {
    throw new LongbowError(
      ErrorCode.invalidQuery,
      `dataset "${ds.name}" has no text columns for text_query (send utf8 columns, or name them in longbow.text_columns)`,
    );
  }
  const queries = streamedQueries ?? queryVectors(ds, t);
  const match = compileFilter(t.filters, ds.def.schema);
  const filter = match ? ds.matchingRows(match) : undefined;
  const hybrid = t.textQuery !== undefined && queries.length > 0;
  const window = hybrid ? Math.max(t.k, FUSION_WINDOW_MIN) : t.k;
  const ef = Math.max(t.ef ?? ds.def.index.ef ?? config.hnswEf, window);

  let vectorHits: RankedHits[] = [];
  let kind: SearchKind = filter ? 'filtered' : 'knn';
  if (queries.length > 0) {
    if (filter && filter.count <= config.filterBruteForceRows) {
      kind = 'exact';
      const ordinals = Dataset.ordinalsOf(filter.bits);
      vectorHits = queries.map((q) => {
        const r = exactSearch(ds, q, ordinals, window);
        return toUser(ds, r.labels, r.distances);
      });
    } else if (ds.index) {
      const flat = new Float32Array(queries.length * ds.def.dim);
      for (const [i, q] of queries.entries()) flat.set(q, i * ds.def.dim);
      const selectivity = filter && filter.count / Math.max(1, ds.liveCount);
      const raw = await ds.index.search(flat, queries.length, window, ef, filter?.bits, selectivity);
      vectorHits = raw.map((h) => toUser(ds, h.labels, h.distances));
    }
  }
  if (t.textQuery === undefined) return { hits: vectorHits, kind };

  const accept = filter
    ? (o: number) => ((filter.bits[o >> 3] ?? 0) & (1 << (o & 7))) !== 0
    : (o: number) => ds.isLive(o);
  const text = ds.text!.search(t.textQuery, window, accept);
  if (!hybrid) {
    return {
      hits: [
        { ordinals: text.ordinals, distances: text.ordinals.map(() => Number.NaN), scores: text.scores },
      ],
      kind: 'text',
    };
  }
  const alpha = t.alpha ?? 0.5;
  const hits = vectorHits.map((v, q) => {
    const fused = fuseRrf(v.ordinals, text.ordinals, alpha, t.k);
    return {
      ordinals: fused.ordinals,
      distances: distancesTo(ds, queries[q]!, fused.ordinals),
      scores: fused.scores,
    };
  });
  return { hits, kind: 'hybrid' };
}
