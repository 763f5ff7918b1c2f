/**
 * Gossip configuration: one documented, readonly record, two presets written as changes to
 * one base, and one resolver that fills defaults, coerces environment strings, checks ranges
 * and cross-field rules, and throws a {@link ClusterConfigError} naming the field.
 *
 * The timings follow hashicorp/memberlist's `DefaultLANConfig` / `DefaultLocalConfig`
 * (SWIM: Das, Gupta, Motivala, DSN 2002; Lifeguard: Dadgar et al. 2018, arXiv:1707.00788).
 * Where a value feeds a formula the formula is written beside it.
 */
import { ClusterConfigError } from '../errors.ts';

/** Protocol and transport settings of one gossip node. All durations are milliseconds. */
export interface GossipConfig {
  /** Run gossip at all (`LONGBOW_GOSSIP_ENABLED`). A single node needs no cluster. Default false. */
  readonly enabled: boolean;
  /** Address the UDP and TCP sockets bind to. Default `0.0.0.0`. */
  readonly bindAddr: string;
  /** UDP and TCP port (`LONGBOW_GOSSIP_PORT`). 0 picks a free port (tests). Default 7946. */
  readonly port: number;
  /**
   * `host:port` that peers use to reach this node (`LONGBOW_GOSSIP_ADVERTISE_ADDR`). Never a
   * wildcard address. Default: `bindAddr:port` when bindAddr is specific, else the first
   * non-internal IPv4 address of the machine (resolved by the adapter, which also fills in
   * the bound port when `port` is 0).
   */
  readonly advertiseAddr: string | undefined;
  /** Seeds as `host:port` (`LONGBOW_GOSSIP_STATIC_PEERS`, comma-separated). Default none. */
  readonly staticPeers: readonly string[];
  /**
   * A DNS name whose A/AAAA records are seeds, each at `port` (`LONGBOW_GOSSIP_DNS_RECORD`),
   * e.g. a StatefulSet's headless service. Re-resolved on every join attempt. Default none.
   */
  readonly dnsRecord: string | undefined;

  /**
   * Time between failure-detection probes (SWIM's protocol period T'). One random member is
   * probed per period in randomized round-robin order, so a crashed member is first probed
   * within N periods (expected ~1). Lower detects faster at more packets. Lifeguard scales it
   * by the local health multiplier. Default 1000.
   */
  readonly probeIntervalMs: number;
  /**
   * How long to wait for a direct ack before asking `indirectChecks` peers to probe for us.
   * Should exceed the 99th percentile round trip. Scaled by local health. Default 500.
   */
  readonly probeTimeoutMs: number;
  /** Peers asked to probe a member that missed its direct ack (SWIM's k). Default 3. */
  readonly indirectChecks: number;
  /**
   * Dissemination: each broadcast is piggybacked at most
   * `retransmitMult * ceil(log10(N + 1))` times. Higher survives more loss at more bytes.
   * Default 4.
   */
  readonly retransmitMult: number;
  /**
   * Minimum suspicion timeout = `suspicionMult * max(1, log10(N)) * probeIntervalMs`; after
   * it (Lifeguard: after the dynamic timeout) a suspect is declared dead. Also sets the
   * number of independent confirmations Lifeguard waits for: `suspicionMult - 2`. Default 4.
   */
  readonly suspicionMult: number;
  /**
   * Lifeguard dynamic suspicion: the timeout starts at `suspicionMaxTimeoutMult` times the
   * minimum and shrinks logarithmically towards the minimum with each independent
   * confirmation. 1 disables it (plain SWIM fixed timeout). Default 6.
   */
  readonly suspicionMaxTimeoutMult: number;
  /**
   * Lifeguard local health awareness: probe interval and timeout are multiplied by
   * `score + 1`, where the score in [0, awarenessMaxMultiplier - 1] rises on missed acks and
   * nacks and falls on successful probes. 1 disables it. Default 8.
   */
  readonly awarenessMaxMultiplier: number;
  /**
   * Lifeguard buddy system: a ping to a member we suspect carries the suspicion, so the
   * member can refute at once instead of waiting for gossip. Default true.
   */
  readonly buddySystemEnabled: boolean;
  /** Time between gossip rounds that push pending broadcasts to `gossipNodes` random peers. Default 200. */
  readonly gossipIntervalMs: number;
  /** Peers per gossip round (memberlist's GossipNodes). Default 3. */
  readonly gossipNodes: number;
  /** Dead and left members still receive gossip for this long, so they learn of it. Default 30000. */
  readonly gossipToTheDeadMs: number;
  /**
   * Time between TCP full-state exchanges with one random live member. Repairs anything
   * gossip lost. Scaled up for clusters over 32 members (memberlist's pushPullScale).
   * 0 disables. Default 30000.
   */
  readonly pushPullIntervalMs: number;
  /**
   * Time between attempts to reach a random dead (not left) member with a push/pull, which
   * is how two sides of a healed network partition find each other again (as serf's
   * reconnect). 0 disables. Default 10000.
   */
  readonly reconnectIntervalMs: number;
  /** Dead and left members are forgotten after this long. Default 3600000 (1 hour). */
  readonly deadMemberReclaimMs: number;
  /** While this node knows no other live member, seeds are re-resolved and retried this often. Default 5000. */
  readonly joinRetryIntervalMs: number;
  /** `start()` waits at most this long for the first push/pull reply from a seed. Default 5000. */
  readonly joinTimeoutMs: number;
  /** TCP push/pull connect-and-transfer timeout. Default 10000. */
  readonly tcpTimeoutMs: number;
  /** Largest UDP packet sent; piggybacked broadcasts fill it up to this size. Default 1400. */
  readonly udpPacketSizeBytes: number;
  /** Bound on queued broadcasts; the most retransmitted are dropped first. Default 1024. */
  readonly broadcastQueueLengthMax: number;
  /** Bound on the member table (alive, suspect, dead and left). Default 4096. */
  readonly memberCountMax: number;
}

/** Base profile for one data centre: memberlist's DefaultLANConfig with Lifeguard on. */
export const LAN_PRESET: GossipConfig = Object.freeze({
  enabled: false,
  bindAddr: '0.0.0.0',
  port: 7946,
  advertiseAddr: undefined,
  staticPeers: Object.freeze([]) as readonly string[],
  dnsRecord: undefined,
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  buddySystemEnabled: true,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  deadMemberReclaimMs: 3_600_000,
  joinRetryIntervalMs: 5_000,
  joinTimeoutMs: 5_000,
  tcpTimeoutMs: 10_000,
  udpPacketSizeBytes: 1400,
  broadcastQueueLengthMax: 1024,
  memberCountMax: 4096,
});

/** Single host or loopback (tests, laptops): memberlist's DefaultLocalConfig, as changes to LAN. */
export const LOCAL_PRESET: GossipConfig = Object.freeze({
  ...LAN_PRESET,
  // Round trips on one host are well under a millisecond.
  probeTimeoutMs: 200,
  // Few members, little loss: one indirect prober and fewer retransmits suffice.
  indirectChecks: 1,
  retransmitMult: 2,
  // Faster detection is safe without real network jitter.
  suspicionMult: 3,
  suspicionMaxTimeoutMult: 3,
  gossipIntervalMs: 100,
  gossipToTheDeadMs: 15_000,
  pushPullIntervalMs: 15_000,
  reconnectIntervalMs: 3_000,
  joinRetryIntervalMs: 1_000,
  joinTimeoutMs: 2_000,
  tcpTimeoutMs: 1_000,
});

/** Named presets accepted by {@link resolveGossipConfig}'s `preset` field. */
export const GOSSIP_PRESETS = Object.freeze({ lan: LAN_PRESET, local: LOCAL_PRESET });
export type GossipPresetName = keyof typeof GOSSIP_PRESETS;

type Scalar = string | number | boolean | undefined;
/**
 * What {@link resolveGossipConfig} accepts: any subset of the fields, typed or as strings (as
 * they come from the environment), plus an optional preset to start from.
 */
export type GossipConfigInput = {
  readonly [K in keyof GossipConfig]?: GossipConfig[K] | Scalar;
} & { readonly preset?: GossipPresetName | string };

/** Environment variables and the field each sets (DESIGN.md, Cluster settings). */
export const GOSSIP_ENV: Readonly<Record<string, keyof GossipConfig | 'preset'>> = Object.freeze({
  LONGBOW_GOSSIP_ENABLED: 'enabled',
  LONGBOW_GOSSIP_BIND_ADDR: 'bindAddr',
  LONGBOW_GOSSIP_PORT: 'port',
  LONGBOW_GOSSIP_ADVERTISE_ADDR: 'advertiseAddr',
  LONGBOW_GOSSIP_STATIC_PEERS: 'staticPeers',
  LONGBOW_GOSSIP_DNS_RECORD: 'dnsRecord',
  LONGBOW_GOSSIP_PRESET: 'preset',
  LONGBOW_GOSSIP_PROBE_INTERVAL_MS: 'probeIntervalMs',
  LONGBOW_GOSSIP_PROBE_TIMEOUT_MS: 'probeTimeoutMs',
  LONGBOW_GOSSIP_SUSPICION_MULT: 'suspicionMult',
  LONGBOW_GOSSIP_PUSH_PULL_INTERVAL_MS: 'pushPullIntervalMs',
});

/** Picks the gossip settings out of an environment (unset and empty variables are skipped). */
export function gossipInputFromEnv(env: Readonly<Record<string, string | undefined>>): GossipConfigInput {
  const out: Record<string, string> = {};
  for (const [name, field] of Object.entries(GOSSIP_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') out[field] = value;
  }
  return out;
}

const POSITIVE_MS = [
  'probeIntervalMs',
  'probeTimeoutMs',
  'gossipIntervalMs',
  'gossipToTheDeadMs',
  'deadMemberReclaimMs',
  'joinRetryIntervalMs',
  'joinTimeoutMs',
  'tcpTimeoutMs',
] as const;
const NON_NEGATIVE_MS = ['pushPullIntervalMs', 'reconnectIntervalMs'] as const;
const POSITIVE_INT = [
  'retransmitMult',
  'suspicionMult',
  'suspicionMaxTimeoutMult',
  'awarenessMaxMultiplier',
  'gossipNodes',
  'broadcastQueueLengthMax',
  'memberCountMax',
] as const;

/**
 * Builds a complete {@link GossipConfig}: starts from the preset (default LAN), applies every
 * defined field of `input`, coerces strings, and validates.
 * @throws ClusterConfigError naming the first bad field.
 */
export function resolveGossipConfig(input: GossipConfigInput = {}): GossipConfig {
  const presetName = input.preset ?? 'lan';
  if (!Object.hasOwn(GOSSIP_PRESETS, presetName)) {
    throw new ClusterConfigError('preset', `must be one of ${Object.keys(GOSSIP_PRESETS).join(', ')}`);
  }
  const base = GOSSIP_PRESETS[presetName as GossipPresetName];
  const raw: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input)) {
    if (key === 'preset' || value === undefined) continue;
    if (!Object.hasOwn(base, key)) throw new ClusterConfigError(key, 'is not a gossip setting');
    raw[key] = value;
  }
  const cfg: Record<string, unknown> = {
    ...raw,
    enabled: toBool('enabled', raw.enabled),
    bindAddr: toStr('bindAddr', raw.bindAddr),
    port: toInt('port', raw.port, 0, 65535),
    advertiseAddr: raw.advertiseAddr === undefined ? undefined : toStr('advertiseAddr', raw.advertiseAddr),
    staticPeers: toList('staticPeers', raw.staticPeers),
    dnsRecord: raw.dnsRecord === undefined ? undefined : toStr('dnsRecord', raw.dnsRecord),
    indirectChecks: toInt('indirectChecks', raw.indirectChecks, 0, 64),
    buddySystemEnabled: toBool('buddySystemEnabled', raw.buddySystemEnabled),
    udpPacketSizeBytes: toInt('udpPacketSizeBytes', raw.udpPacketSizeBytes, 512, 65_507),
  };
  for (const f of POSITIVE_MS) cfg[f] = toInt(f, raw[f], 1, 2 ** 31);
  for (const f of NON_NEGATIVE_MS) cfg[f] = toInt(f, raw[f], 0, 2 ** 31);
  for (const f of POSITIVE_INT) cfg[f] = toInt(f, raw[f], 1, 1_000_000);
  const out = cfg as unknown as GossipConfig;
  if (out.advertiseAddr !== undefined) checkHostPort('advertiseAddr', out.advertiseAddr);
  if (out.advertiseAddr === undefined && !isWildcard(out.bindAddr) && out.port !== 0) {
    (cfg as { advertiseAddr: string }).advertiseAddr = joinHostPort(out.bindAddr, out.port);
  }
  out.staticPeers.forEach((p) => void checkHostPort('staticPeers', p));
  if (out.probeTimeoutMs >= out.probeIntervalMs) {
    throw new ClusterConfigError('probeTimeoutMs', 'must be less than probeIntervalMs');
  }
  if (out.suspicionMult < 2) throw new ClusterConfigError('suspicionMult', 'must be at least 2');
  return Object.freeze(out);
}

/** True for `0.0.0.0`, `::` and the empty host: addresses peers cannot use. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** `host:port`, bracketing IPv6 hosts. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits `host:port` or `[v6]:port`. Returns undefined when malformed. */
export function splitHostPort(addr: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:[\]]+):(\d+)$/.exec(addr);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

function checkHostPort(field: string, addr: string): void {
  if (!splitHostPort(addr)) throw new ClusterConfigError(field, `"${addr}" is not host:port`);
  if (isWildcard(splitHostPort(addr)!.host)) throw new ClusterConfigError(field, 'must not be a wildcard');
}

function toInt(field: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ClusterConfigError(field, `must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return n;
}

function toBool(field: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ClusterConfigError(field, `must be true or false, got ${String(v)}`);
}

function toStr(field: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new ClusterConfigError(field, 'must be a non-empty string');
  return v;
}

function toList(field: string, v: unknown): readonly string[] {
  if (typeof v === 'string') {
    return Object.freeze(
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
  }
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return Object.freeze([...v]);
  throw new ClusterConfigError(field, 'must be a comma-separated string or a string array');
}
