/**
 * Bounded selection of the k smallest distances (a max-heap of size k: O(n log k)).
 * Ties keep the label seen first. Used for exact search and for merging result lists.
 */
export class TopK {
  readonly k: number;
  private readonly labels: number[] = [];
  private readonly dists: number[] = [];

  constructor(k: number) {
    this.k = k;
  }

  get size(): number {
    return this.labels.length;
  }

  /** The largest distance kept, or +Infinity while fewer than k are kept. */
  worst(): number {
    return this.labels.length < this.k ? Number.POSITIVE_INFINITY : this.dists[0]!;
  }

  /** Offers a candidate; keeps it if it is among the k nearest so far. */
  push(label: number, distance: number): void {
    if (this.k === 0) return;
    if (this.labels.length < this.k) {
      this.labels.push(label);
      this.dists.push(distance);
      this.siftUp(this.labels.length - 1);
    } else if (distance < this.dists[0]!) {
      this.labels[0] = label;
      this.dists[0] = distance;
      this.siftDown(0);
    }
  }

  /** The kept candidates, nearest first. */
  sorted(): { labels: number[]; distances: number[] } {
    const order = this.labels.map((_, i) => i).sort((a, b) => this.dists[a]! - this.dists[b]! || a - b);
    return { labels: order.map((i) => this.labels[i]!), distances: order.map((i) => this.dists[i]!) };
  }

  private swap(i: number, j: number): void {
    [this.labels[i], this.labels[j]] = [this.labels[j]!, this.labels[i]!];
    [this.dists[i], this.dists[j]] = [this.dists[j]!, this.dists[i]!];
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.dists[parent]! >= this.dists[i]!) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.labels.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let largest = i;
      if (l < n && this.dists[l]! > this.dists[largest]!) largest = l;
      if (r < n && this.dists[r]! > this.dists[largest]!) largest = r;
      if (largest === i) return;
      this.swap(i, largest);
      i = largest;
    }
  }
}
