/**
 * Proxy overhead: the same routed call (`get_stats` for one dataset) sent straight to the
 * dataset's owner and through a proxying node, three `longbow serve` processes on loopback
 * (the e2e harness, `local` gossip preset). Prints ms per call for each path and the
 * difference; asserts nothing (on a shared machine the figures move with the load, so they
 * belong in docs/cluster.md's measured table, not in a test).
 *
 *   node e2e/cluster/bench/proxy-overhead.bench.ts [calls=200] [warmup=20]
 */
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { batch, SCHEMA } from '../data.ts';
import { loopbackCluster } from '../harness.ts';
import { clusterStatus, keyOwnedBy, poll } from '../util.ts';

const CALLS = Number(process.argv[2] ?? 200);
const WARMUP = Number(process.argv[3] ?? 20);
const IDS = ['n1', 'n2', 'n3'];

const nodes = await loopbackCluster(3, 'proxy');
try {
  await Promise.all(nodes.map((n) => n.start()));
  await poll(
    'all members alive on the same ring everywhere',
    async () => {
      const all = await Promise.all(nodes.map((n) => clusterStatus(n)));
      return all.every((s) => s.ring.nodes.join() === IDS.join()) ? true : undefined;
    },
    10_000,
  );
  const ds = keyOwnedBy('n2', IDS, 'bench_ds');
  const direct = new FlightClient(nodes[1]!.dataAddr);
  const viaProxy = new FlightClient(nodes[0]!.dataAddr);
  await direct.doPut(pathDescriptor(ds), SCHEMA, [batch(0, 10)]);

  /** Mean ms per call of `calls` sequential get_stats after `WARMUP` unmeasured ones. */
  const msPerCall = async (c: FlightClient, calls: number): Promise<number> => {
    for (let i = 0; i < WARMUP; i++) await c.doActionJson('get_stats', { dataset: ds });
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await c.doActionJson('get_stats', { dataset: ds });
    return (performance.now() - t0) / calls;
  };
  const d = await msPerCall(direct, CALLS);
  const p = await msPerCall(viaProxy, CALLS);
  console.log(`routed get_stats, ${CALLS} calls each, loopback, 3 processes`);
  console.log('| path | ms/call |');
  console.log('|---|---|');
  console.log(`| direct to the owner | ${d.toFixed(2)} |`);
  console.log(`| through a proxying node | ${p.toFixed(2)} (+${(p - d).toFixed(2)}) |`);
  direct.close();
  viaProxy.close();
} finally {
  await Promise.all(nodes.map((n) => n.dispose()));
}
