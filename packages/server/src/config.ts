/**
 * The node's configuration: one documented readonly interface, defaults, the table that
 * maps `LONGBOW_*` environment variables onto it (the Go original's names where it has
 * them), and one resolver that parses, fills defaults, checks ranges and throws a
 * {@link ConfigError} naming the variable.
 */
import os from 'node:os';
import {
  ClusterConfigError,
  GOSSIP_ENV,
  type GossipConfig,
  gossipInputFromEnv,
  joinHostPort,
  resolveGossipConfig,
} from '@longbow/cluster';
import { type CompressionName, parseCompressionName } from '@longbow/flight';

/** Distance metrics a dataset can use. */
export type MetricName = 'l2' | 'cosine' | 'dot';

/** Everything a node needs to run. Units are in the names. */
export interface NodeConfig {
  /** This node's identity in logs, metrics and (later) the cluster. Default: the hostname. */
  readonly nodeId: string;
  /** Flight data server (DoPut/DoGet/DoExchange), `host:port`. Default `0.0.0.0:3000`. */
  readonly listenAddr: string;
  /** Flight meta server (ListFlights/GetFlightInfo/GetSchema/DoAction), `host:port`. Default `0.0.0.0:3001`. */
  readonly metaAddr: string;
  /** HTTP server for `/metrics`, `/healthz`, `/readyz`, `host:port`. Default `0.0.0.0:9090`. */
  readonly metricsAddr: string;
  /**
   * Host name or IP that clients use to reach this node, put in FlightInfo endpoint
   * locations. Never `0.0.0.0`. Default: `POD_IP`, else the listen host when it is
   * specific, else the first non-internal IPv4 address, else 127.0.0.1.
   */
  readonly advertiseHost: string;
  /** Directory of the write-ahead log. Default `/data`. */
  readonly dataPath: string;
  /** Directory of Parquet snapshots. Default `/snapshots`. */
  readonly snapshotPath: string;
  /**
   * When true, a write is acknowledged once written to the WAL file and fsync runs every
   * `walFlushIntervalMs` (a crash of the machine can lose that window; a crash of the
   * process cannot). Default false: acknowledged only after fsync (group-committed).
   */
  readonly asyncFsync: boolean;
  /** fsync period in async mode, ms. Default 10. */
  readonly walFlushIntervalMs: number;
  /** A WAL segment file is closed and a new one started past this size, bytes. Default 64 MiB. */
  readonly walSegmentBytes: number;
  /**
   * Bytes the WAL accepts into its queue before appends wait (backpressure); above 80% of
   * it DoPut also sends `slow_down`. Default 256 MiB.
   */
  readonly walQueueBytesMax: number;
  /** WAL size that triggers a snapshot and truncation, bytes. Default 100 MB. */
  readonly maxWalBytes: number;
  /** Largest Flight message accepted, bytes; larger ones are INVALID_ARGUMENT. Default 64 MiB. */
  readonly maxMessageBytes: number;
  /** Compression of DoGet streams. Default `lz4`. */
  readonly flightCompression: CompressionName;
  /** Memory limit for datasets, bytes; 0 means unlimited. Default 0. */
  readonly maxMemoryBytes: number;
  /** HNSW graph degree M for new datasets. Default 16. */
  readonly hnswM: number;
  /** HNSW ef_construction for new datasets. Default 200. */
  readonly hnswEfConstruction: number;
  /** Default search-time ef when a ticket gives none. Default 64 (raised to k when smaller). */
  readonly hnswEf: number;
  /** Worker threads that build and search indexes. Default: number of cores, at most 4. */
  readonly indexWorkers: number;
  /**
   * Rows per index shard: a dataset below this has one HNSW graph; past it, new rows start
   * a new shard on the next worker, so large loads build in parallel. Default 100000.
   */
  readonly indexShardRows: number;
  /** Deleted fraction of a shard that triggers a background rebuild (vacuum); 1 disables. Default 0.2. */
  readonly indexVacuumRatio: number;
  /**
   * A filtered search whose filter keeps at most this many rows is answered by an exact
   * scan of those rows instead of a filtered HNSW traversal. Default 5000.
   */
  readonly filterBruteForceRows: number;
  /** Time allowed for in-flight calls to finish at shutdown, ms. Default 10000. */
  readonly shutdownGraceMs: number;
  /** Log level: trace, debug, info, warn, error. Default `info`. */
  readonly logLevel: string;
  /**
   * Period of the snapshot ticker, ms (`LONGBOW_SNAPSHOT_INTERVAL`, e.g. `5m`); 0 turns the
   * ticker off (snapshots then happen on `force_snapshot`, WAL size and shutdown). Shorter
   * means less WAL to replay after a crash, at the cost of rewriting changed datasets more
   * often. SIGHUP re-reads it. Default 5 minutes.
   */
  readonly snapshotIntervalMs: number;
  /**
   * Longest time the shutdown snapshot may take, ms; past it the node exits anyway (the WAL
   * still holds everything). Keep it under the pod's termination grace period. Default 30 s.
   */
  readonly shutdownSnapshotTimeoutMs: number;
  /**
   * How often background compaction looks for runs of small batches to merge, ms
   * (`LONGBOW_COMPACTION_INTERVAL`); 0 turns it off. Default 5 s.
   */
  readonly compactionIntervalMs: number;
  /**
   * Parquet compression of snapshots: `snappy` (default), `zstd`, `none`. Measured on
   * glove100 (331k x 100 floats): snappy 1.8 s and 134 MB, zstd 11.9 s and 124 MB — float
   * vectors hardly compress, so zstd pays 6x the time for 7%; it helps text-heavy datasets.
   */
  readonly snapshotCompression: 'zstd' | 'snappy' | 'none';
  /** Where snapshots go: `local` (`snapshotPath`, default) or `s3` (the `s3*` settings). */
  readonly storageBackend: 'local' | 's3';
  /** S3 bucket for snapshots; required when `storageBackend` is `s3`. */
  readonly s3Bucket: string;
  /** Key prefix: objects are `{prefix}/snapshots/{dataset}.parquet`. Default empty. */
  readonly s3Prefix: string;
  /** S3 region. Default `AWS_REGION`, else `us-east-1`. */
  readonly s3Region: string;
  /** S3 endpoint URL for S3-compatible servers (MinIO, …); empty for AWS. Default empty. */
  readonly s3Endpoint: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. Default false. */
  readonly s3UsePathStyle: boolean;
  /**
   * Part size of multipart snapshot uploads, bytes: a file up to this size is one PutObject,
   * a larger one is uploaded in parts of this size. Default 64 MiB; 5 MiB to 5 GiB.
   */
  readonly s3PartBytes: number;
  /**
   * Gossip settings (`LONGBOW_GOSSIP_*`, resolved by `@longbow/cluster`; docs/cluster.md).
   * `enabled` false (the default) runs a single node with no cluster part at all. When
   * `advertiseAddr` is unset, the bind address is a wildcard and the port fixed, peers are
   * told `advertiseHost:port`.
   */
  readonly gossip: GossipConfig;
  /**
   * What a node does with a call for a key another node owns: `proxy` (default) forwards it
   * to the owner; `redirect` answers FORWARD_REQUIRED with the owner's address. Clients that
   * send `x-longbow-routing: redirect` are redirected in either mode.
   */
  readonly routingMode: 'proxy' | 'redirect';
  /**
   * Longest wait for a connection to the owner when forwarding, ms; past it the call fails
   * with UNAVAILABLE `OWNER_UNREACHABLE`. A refused connection fails at once. Default 2000.
   */
  readonly forwardConnectTimeoutMs: number;
}

/** A setting that cannot be parsed or is out of range; `variable` names it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

type Parser<T> = (raw: string, variable: string) => T;

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  ki: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses `100MB`, `64MiB`, `2Gi`, `1048576` into bytes (SI for kB/MB/GB, binary for Ki/Mi/Gi). */
export const parseBytes: Parser<number> = (raw, variable) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined)
    throw new ConfigError(variable, `"${raw}" is not a size (e.g. 100MB, 64MiB, 1073741824)`);
  return Math.floor(Number(m[1]) * unit);
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `10ms`, `5s`, `5m`, `1h`, `1h30m` into milliseconds; a bare number is ms. */
export const parseDurationMs: Parser<number> = (raw, variable) => {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return Number(s);
  let total = 0;
  let rest = s;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new ConfigError(variable, `"${raw}" is not a duration (e.g. 500ms, 30s, 5m, 1h)`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (s.length === 0) throw new ConfigError(variable, 'empty duration');
  return Math.round(total);
};

const parseBool: Parser<boolean> = (raw, variable) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(variable, `"${raw}" is not a boolean (true/false)`);
};

const parseInteger: Parser<number> = (raw, variable) => {
  const n = Number(raw.trim());
  if (!Number.isInteger(n)) throw new ConfigError(variable, `"${raw}" is not an integer`);
  return n;
};

const parseAddr: Parser<string> = (raw, variable) => {
  const v = raw.trim();
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(variable, `"${raw}" is not host:port`);
  return m[1] === '' ? `0.0.0.0:${m[2]}` : v;
};

const parseString: Parser<string> = (raw) => raw.trim();

const parseRoutingMode: Parser<'proxy' | 'redirect'> = (raw, variable) => {
  const v = raw.trim().toLowerCase();
  if (v === 'proxy' || v === 'redirect') return v;
  throw new ConfigError(variable, `"${raw}" is not a routing mode (proxy or redirect)`);
};

const parseFraction: Parser<number> = (raw, variable) => {
  const n = Number(raw.trim());
  if (!Number.isFinite(n)) throw new ConfigError(variable, `"${raw}" is not a number`);
  return n;
};

const parseCompression: Parser<CompressionName> = (raw, variable) => {
  try {
    return parseCompressionName(raw);
  } catch (err) {
    throw new ConfigError(variable, (err as Error).message);
  }
};

/** A parser accepting one of `values` (case-insensitive). */
function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  return (raw, variable) => {
    const v = raw.trim().toLowerCase();
    if ((values as readonly string[]).includes(v)) return v as T;
    throw new ConfigError(variable, `"${raw}" is not one of ${values.join(', ')}`);
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Environment variable → config field, with its parser. The only place env names appear. */
const ENV_TABLE: ReadonlyArray<{ env: string; field: keyof NodeConfig; parse: Parser<unknown> }> = [
  { env: 'LONGBOW_NODE_ID', field: 'nodeId', parse: parseString },
  { env: 'LONGBOW_LISTEN_ADDR', field: 'listenAddr', parse: parseAddr },
  { env: 'LONGBOW_META_ADDR', field: 'metaAddr', parse: parseAddr },
  { env: 'LONGBOW_METRICS_ADDR', field: 'metricsAddr', parse: parseAddr },
  { env: 'LONGBOW_ADVERTISE_HOST', field: 'advertiseHost', parse: parseString },
  { env: 'LONGBOW_DATA_PATH', field: 'dataPath', parse: parseString },
  { env: 'LONGBOW_SNAPSHOT_PATH', field: 'snapshotPath', parse: parseString },
  { env: 'LONGBOW_STORAGE_ASYNC_FSYNC', field: 'asyncFsync', parse: parseBool },
  { env: 'LONGBOW_WAL_FLUSH_INTERVAL', field: 'walFlushIntervalMs', parse: parseDurationMs },
  { env: 'LONGBOW_WAL_SEGMENT_SIZE', field: 'walSegmentBytes', parse: parseBytes },
  { env: 'LONGBOW_WAL_QUEUE_SIZE', field: 'walQueueBytesMax', parse: parseBytes },
  { env: 'LONGBOW_MAX_WAL_SIZE', field: 'maxWalBytes', parse: parseBytes },
  { env: 'LONGBOW_MAX_MESSAGE_SIZE', field: 'maxMessageBytes', parse: parseBytes },
  { env: 'LONGBOW_FLIGHT_COMPRESSION', field: 'flightCompression', parse: parseCompression },
  { env: 'LONGBOW_MAX_MEMORY', field: 'maxMemoryBytes', parse: parseBytes },
  { env: 'LONGBOW_HNSW_M', field: 'hnswM', parse: parseInteger },
  { env: 'LONGBOW_HNSW_EF_CONSTRUCTION', field: 'hnswEfConstruction', parse: parseInteger },
  { env: 'LONGBOW_HNSW_EF', field: 'hnswEf', parse: parseInteger },
  { env: 'LONGBOW_INDEX_WORKERS', field: 'indexWorkers', parse: parseInteger },
  { env: 'LONGBOW_INDEX_SHARD_ROWS', field: 'indexShardRows', parse: parseInteger },
  { env: 'LONGBOW_INDEX_VACUUM_RATIO', field: 'indexVacuumRatio', parse: parseFraction },
  { env: 'LONGBOW_FILTER_BRUTE_FORCE_ROWS', field: 'filterBruteForceRows', parse: parseInteger },
  { env: 'LONGBOW_SHUTDOWN_GRACE', field: 'shutdownGraceMs', parse: parseDurationMs },
  { env: 'LONGBOW_LOG_LEVEL', field: 'logLevel', parse: parseString },
  { env: 'LONGBOW_SNAPSHOT_INTERVAL', field: 'snapshotIntervalMs', parse: parseDurationMs },
  { env: 'LONGBOW_SHUTDOWN_SNAPSHOT_TIMEOUT', field: 'shutdownSnapshotTimeoutMs', parse: parseDurationMs },
  { env: 'LONGBOW_COMPACTION_INTERVAL', field: 'compactionIntervalMs', parse: parseDurationMs },
  {
    env: 'LONGBOW_SNAPSHOT_COMPRESSION',
    field: 'snapshotCompression',
    parse: oneOf(['zstd', 'snappy', 'none']),
  },
  { env: 'LONGBOW_STORAGE_BACKEND', field: 'storageBackend', parse: oneOf(['local', 's3']) },
  { env: 'LONGBOW_S3_BUCKET', field: 's3Bucket', parse: parseString },
  { env: 'LONGBOW_S3_PREFIX', field: 's3Prefix', parse: parseString },
  { env: 'LONGBOW_S3_REGION', field: 's3Region', parse: parseString },
  { env: 'LONGBOW_S3_ENDPOINT', field: 's3Endpoint', parse: parseString },
  { env: 'LONGBOW_S3_USE_PATH_STYLE', field: 's3UsePathStyle', parse: parseBool },
  { env: 'LONGBOW_S3_PART_SIZE', field: 's3PartBytes', parse: parseBytes },
  { env: 'LONGBOW_ROUTING_MODE', field: 'routingMode', parse: parseRoutingMode },
  { env: 'LONGBOW_FORWARD_CONNECT_TIMEOUT', field: 'forwardConnectTimeoutMs', parse: parseDurationMs },
];

/** The variable name that sets a field (for error messages). */
export function envNameOf(field: keyof NodeConfig): string {
  return ENV_TABLE.find((e) => e.field === field)?.env ?? field;
}

/** Defaults from DESIGN.md; `advertiseHost` is derived in the resolver. */
export function defaultConfig(): NodeConfig {
  return {
    nodeId: os.hostname(),
    listenAddr: '0.0.0.0:3000',
    metaAddr: '0.0.0.0:3001',
    metricsAddr: '0.0.0.0:9090',
    advertiseHost: '',
    dataPath: '/data',
    snapshotPath: '/snapshots',
    asyncFsync: false,
    walFlushIntervalMs: 10,
    walSegmentBytes: 64 * 1024 * 1024,
    walQueueBytesMax: 256 * 1024 * 1024,
    maxWalBytes: 100 * 1000 * 1000,
    maxMessageBytes: 64 * 1024 * 1024,
    flightCompression: 'lz4',
    maxMemoryBytes: 0,
    hnswM: 16,
    hnswEfConstruction: 200,
    hnswEf: 64,
    indexWorkers: Math.max(1, Math.min(4, os.availableParallelism())),
    indexShardRows: 100_000,
    indexVacuumRatio: 0.2,
    filterBruteForceRows: 5000,
    shutdownGraceMs: 10_000,
    logLevel: 'info',
    snapshotIntervalMs: 5 * 60_000,
    shutdownSnapshotTimeoutMs: 30_000,
    compactionIntervalMs: 5000,
    snapshotCompression: 'snappy',
    storageBackend: 'local',
    s3Bucket: '',
    s3Prefix: '',
    s3Region: process.env.AWS_REGION || 'us-east-1',
    s3Endpoint: '',
    s3UsePathStyle: false,
    s3PartBytes: 64 * 1024 * 1024,
    gossip: resolveGossipConfig({}),
    routingMode: 'proxy',
    forwardConnectTimeoutMs: 2000,
  };
}

/** Gossip settings from `LONGBOW_GOSSIP_*`; a ClusterConfigError becomes a ConfigError naming the variable. */
function resolveGossipFromEnv(env: NodeJS.ProcessEnv, advertiseHost: string): GossipConfig {
  let gossip: GossipConfig;
  try {
    gossip = resolveGossipConfig(gossipInputFromEnv(env));
  } catch (err) {
    if (!(err instanceof ClusterConfigError)) throw err;
    const variable = Object.entries(GOSSIP_ENV).find(([, f]) => f === err.field)?.[0] ?? err.field;
    throw new ConfigError(variable, err.message);
  }
  const wildcard = gossip.bindAddr === '0.0.0.0' || gossip.bindAddr === '::';
  if (gossip.advertiseAddr === undefined && wildcard && gossip.port !== 0)
    return Object.freeze({ ...gossip, advertiseAddr: joinHostPort(advertiseHost, gossip.port) });
  return gossip;
}

function hostOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  return addr.slice(0, i).replace(/^\[|\]$/g, '');
}

function firstExternalIPv4(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function deriveAdvertiseHost(listenAddr: string, env: NodeJS.ProcessEnv): string {
  if (env.POD_IP) return env.POD_IP;
  const host = hostOf(listenAddr);
  if (host && host !== '0.0.0.0' && host !== '::') return host;
  return firstExternalIPv4() ?? '127.0.0.1';
}

function check(ok: boolean, field: keyof NodeConfig, message: string): void {
  if (!ok) throw new ConfigError(envNameOf(field), message);
}

/**
 * Builds the config from environment variables over the defaults (and over `overrides`,
 * which tests and embedders use). Throws ConfigError naming the variable.
 */
export function resolveConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<NodeConfig> = {},
): NodeConfig {
  const cfg = { ...defaultConfig(), ...overrides } as Mutable<NodeConfig>;
  for (const { env: name, field, parse } of ENV_TABLE) {
    const raw = env[name];
    if (raw !== undefined && !(field in overrides))
      (cfg as Record<string, unknown>)[field] = parse(raw, name);
  }
  if (!cfg.advertiseHost) cfg.advertiseHost = deriveAdvertiseHost(cfg.listenAddr, env);
  if (!('gossip' in overrides)) cfg.gossip = resolveGossipFromEnv(env, cfg.advertiseHost);
  check(cfg.nodeId.length > 0, 'nodeId', 'must not be empty');
  check(
    cfg.advertiseHost !== '0.0.0.0' && cfg.advertiseHost !== '::',
    'advertiseHost',
    'must be an address clients can reach, not a wildcard',
  );
  check(cfg.dataPath.length > 0, 'dataPath', 'must not be empty');
  check(
    cfg.walFlushIntervalMs >= 1 && cfg.walFlushIntervalMs <= 10_000,
    'walFlushIntervalMs',
    'must be between 1ms and 10s',
  );
  check(cfg.walSegmentBytes >= 1024 * 1024, 'walSegmentBytes', 'must be at least 1MiB');
  check(
    cfg.walQueueBytesMax >= cfg.maxMessageBytes,
    'walQueueBytesMax',
    'must be at least LONGBOW_MAX_MESSAGE_SIZE',
  );
  check(
    cfg.maxMessageBytes >= 1024 * 1024 && cfg.maxMessageBytes <= 1024 ** 3,
    'maxMessageBytes',
    'must be between 1MiB and 1GiB',
  );
  check(cfg.hnswM >= 2 && cfg.hnswM <= 128, 'hnswM', 'must be between 2 and 128');
  check(
    cfg.hnswEfConstruction >= 8 && cfg.hnswEfConstruction <= 4096,
    'hnswEfConstruction',
    'must be between 8 and 4096',
  );
  check(cfg.hnswEf >= 1 && cfg.hnswEf <= 10_000, 'hnswEf', 'must be between 1 and 10000');
  check(cfg.indexWorkers >= 1 && cfg.indexWorkers <= 64, 'indexWorkers', 'must be between 1 and 64');
  check(cfg.indexShardRows >= 1000, 'indexShardRows', 'must be at least 1000');
  check(cfg.indexVacuumRatio > 0 && cfg.indexVacuumRatio <= 1, 'indexVacuumRatio', 'must be in (0, 1]');
  check(cfg.filterBruteForceRows >= 0, 'filterBruteForceRows', 'must not be negative');
  check(cfg.shutdownGraceMs >= 0, 'shutdownGraceMs', 'must not be negative');
  check(cfg.snapshotIntervalMs >= 0, 'snapshotIntervalMs', 'must not be negative');
  check(
    cfg.storageBackend !== 's3' || cfg.s3Bucket.length > 0,
    's3Bucket',
    'must be set when LONGBOW_STORAGE_BACKEND=s3',
  );
  check(
    cfg.s3PartBytes >= 5 * 1024 ** 2 && cfg.s3PartBytes <= 5 * 1024 ** 3,
    's3PartBytes',
    'must be between 5MiB and 5GiB (S3 part limits)',
  );
  check(
    cfg.forwardConnectTimeoutMs >= 10 && cfg.forwardConnectTimeoutMs <= 60_000,
    'forwardConnectTimeoutMs',
    'must be between 10ms and 60s',
  );
  return Object.freeze(cfg);
}

/** Splits `host:port` into parts (IPv6 hosts without brackets). */
export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: hostOf(addr), port: Number(addr.slice(i + 1)) };
}
