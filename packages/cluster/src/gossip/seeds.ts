/**
 * Seed discovery: the static peer list plus the A/AAAA records of a DNS name (for example a
 * StatefulSet's headless service, whose records are the ready pods), each at the gossip
 * port. Re-run on every join attempt, since pods come and go.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { type GossipConfig, joinHostPort } from './config.ts';

/** The subset of `dns.promises.lookup` used here; injectable for tests. */
export type LookupAll = (hostname: string, options: { all: true }) => Promise<{ address: string }[]>;

export interface SeedResolution {
  /** `host:port` seeds, deduplicated, static ones first. */
  readonly addrs: string[];
  /** Why the DNS record could not be resolved, if it could not (no peers yet is normal). */
  readonly dnsError: Error | undefined;
}

/** Resolves the configured seeds. Never throws: a failed DNS lookup is reported, not fatal. */
export async function resolveSeeds(
  config: Pick<GossipConfig, 'staticPeers' | 'dnsRecord' | 'port'>,
  lookup: LookupAll = dnsLookup as LookupAll,
): Promise<SeedResolution> {
  const addrs = new Set(config.staticPeers);
  let dnsError: Error | undefined;
  if (config.dnsRecord !== undefined) {
    try {
      for (const { address } of await lookup(config.dnsRecord, { all: true })) {
        addrs.add(joinHostPort(address, config.port));
      }
    } catch (err) {
      dnsError = err instanceof Error ? err : new Error(String(err));
    }
  }
  return { addrs: [...addrs], dnsError };
}
