/**
 * Helpers shared by the cluster tests: ring ownership as the nodes compute it, polling
 * with a bound, metric scraping, and timing.
 */
import { RingManager } from '@longbow/cluster';
import { FlightClient } from '@longbow/flight';
import type { NodeProc } from './harness.ts';

/** The first name `prefix<i>` that `owner` owns on the ring of `ids`. */
export function keyOwnedBy(owner: string, ids: readonly string[], prefix = 'ds'): string {
  const ring = new RingManager();
  ring.replace(ids);
  for (let i = 0; i < 10_000; i++) if (ring.owner(`${prefix}${i}`) === owner) return `${prefix}${i}`;
  throw new Error(`no key owned by ${owner}`);
}

/** The owner of `key` on the ring of `ids`. */
export function ownerOf(key: string, ids: readonly string[]): string {
  const ring = new RingManager();
  ring.replace(ids);
  return ring.owner(key)!;
}

/** Calls `probe` every `everyMs` until it returns a value other than undefined; rejects after `timeoutMs`. */
export async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const until = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > until)
      throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The `cluster_status` of a node, through its data port. */
export interface StatusAnswer {
  node_id: string;
  routing_mode: string;
  members: Array<{ id: string; state: string; incarnation: number; data_addr: string; meta_addr: string }>;
  ring: { version: number; nodes: string[] };
}

export async function clusterStatus(n: NodeProc, timeoutMs = 2000): Promise<StatusAnswer> {
  const c = new FlightClient(n.dataAddr);
  try {
    return await c.doActionJson<StatusAnswer>('cluster_status', {}, { timeoutMs });
  } finally {
    c.close();
  }
}

/** Datasets held by the node itself (`get_stats` without a dataset is node-local). */
export async function localDatasets(n: NodeProc): Promise<string[]> {
  const c = new FlightClient(n.dataAddr);
  try {
    const s = await c.doActionJson<{ datasets: Record<string, unknown> }>(
      'get_stats',
      {},
      { timeoutMs: 5000 },
    );
    return Object.keys(s.datasets ?? {}).sort();
  } finally {
    c.close();
  }
}

/** The value of one series in the node's /metrics (0 when absent). */
export async function metric(
  n: NodeProc,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://${n.opts.host}:${n.opts.ports.http}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
