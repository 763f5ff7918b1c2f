/**
 * BM25 full-text index over a dataset's text columns (Robertson & Zaragoza, "The
 * Probabilistic Relevance Framework: BM25 and Beyond", 2009), with Lucene's non-negative
 * idf:
 *
 *   score(d, q) = Σ_{t ∈ q} idf(t) · tf(t,d)·(k1+1) / (tf(t,d) + k1·(1 − b + b·|d|/avgdl))
 *   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * k1 = 1.2, b = 0.75. Tokens: lowercased runs of letters and digits (Unicode), no
 * stemming, no stop words — the configuration of the reference figure for the vaswani
 * collection (MAP 0.2147). Query terms count once each.
 *
 * Documents are row ordinals. Deleted rows stay in the statistics (N, df, avgdl) until the
 * index is rebuilt, as in Lucene; the caller filters them from results.
 */
import { TopK } from '../index/top-k.ts';

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;

const TOKEN_RE = /[\p{L}\p{N}]+/gu;

/** Lowercased letter/digit runs of `text`. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN_RE) ?? [];
}

interface Postings {
  docs: number[];
  tfs: number[];
}

/** One dataset's inverted index. */
export class Bm25Index {
  private readonly postings = new Map<string, Postings>();
  private docLengths = new Float32Array(1024);
  private docCount = 0;
  private totalLength = 0;

  /** Documents indexed (including ones later deleted). */
  get size(): number {
    return this.docCount;
  }

  /** Number of distinct terms. */
  get terms(): number {
    return this.postings.size;
  }

  /** Adds a document; ordinals must be added in increasing order. */
  add(ordinal: number, text: string): void {
    const tokens = tokenize(text);
    if (ordinal >= this.docLengths.length) {
      const grown = new Float32Array(Math.max(ordinal + 1, this.docLengths.length * 2));
      grown.set(this.docLengths);
      this.docLengths = grown;
    }
    this.docLengths[ordinal] = tokens.length;
    this.docCount++;
    this.totalLength += tokens.length;
    const counts = new Map<string, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [term, tf] of counts) {
      const p = this.postings.get(term);
      if (p) {
        p.docs.push(ordinal);
        p.tfs.push(tf);
      } else {
        this.postings.set(term, { docs: [ordinal], tfs: [tf] });
      }
    }
  }

  /**
   * The k best documents for `query`, best first, among those `accept` admits (live and
   * matching filters). Documents without any query term are not returned.
   */
  search(
    query: string,
    k: number,
    accept: (ordinal: number) => boolean,
  ): { ordinals: number[]; scores: number[] } {
    const terms = [...new Set(tokenize(query))];
    const avgdl = this.docCount > 0 ? this.totalLength / this.docCount : 0;
    const scores = new Map<number, number>();
    for (const term of terms) {
      const p = this.postings.get(term);
      if (!p) continue;
      const df = p.docs.length;
      const idf = Math.log(1 + (this.docCount - df + 0.5) / (df + 0.5));
      for (let i = 0; i < df; i++) {
        const doc = p.docs[i]!;
        const tf = p.tfs[i]!;
        const norm = BM25_K1 * (1 - BM25_B + (BM25_B * this.docLengths[doc]!) / avgdl);
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * tf * (BM25_K1 + 1)) / (tf + norm));
      }
    }
    const top = new TopK(k);
    for (const [doc, score] of scores) if (accept(doc)) top.push(doc, -score);
    const { labels, distances } = top.sorted();
    return { ordinals: labels, scores: distances.map((d) => -d) };
  }
}
