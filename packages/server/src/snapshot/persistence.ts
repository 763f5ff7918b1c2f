/**
 * The node's persistence wiring (node.ts calls only these): pick the snapshot backend,
 * load snapshots before WAL replay, decide which replayed entries a snapshot already
 * covers, start the snapshotter, and take the final snapshot at shutdown.
 *
 * Start-up order: {@link loadSnapshots} → `Wal.open(…, entry => covers(entry) || apply,
 * walFloorLsn)` → {@link Persistence.checkWal} → {@link Persistence.start}.
 */
import type { Logger } from 'pino';
import type { NodeConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import { type FileLayer, nodeFileLayer } from '../storage/file-layer.ts';
import { Compactor } from '../store/compaction.ts';
import type { Store } from '../store/store.ts';
import type { WalEntry } from '../wal/entry.ts';
import type { Wal } from '../wal/wal.ts';
import type { SnapshotBackend } from './backend.ts';
import { LocalSnapshotBackend } from './local.ts';
import { S3SnapshotBackend } from './s3.ts';
import { type Recovered, recoverSnapshots, Snapshotter } from './snapshotter.ts';

/** Called after each S3 request: the SDK command name and whether it succeeded. */
export type S3RequestObserver = (operation: string, ok: boolean) => void;

/** The configured snapshot backend. */
export function createBackend(
  config: NodeConfig,
  files: FileLayer = nodeFileLayer,
  onS3Request?: S3RequestObserver,
): SnapshotBackend {
  if (config.storageBackend === 's3') {
    return new S3SnapshotBackend({
      onRequest: onS3Request,
      bucket: config.s3Bucket,
      prefix: config.s3Prefix,
      region: config.s3Region,
      endpoint: config.s3Endpoint,
      usePathStyle: config.s3UsePathStyle,
      partBytes: config.s3PartBytes,
    });
  }
  return new LocalSnapshotBackend(config.snapshotPath, files);
}

/** A WAL directory with no segment files (a new node, or a lost WAL volume). */
async function walIsEmpty(files: FileLayer, dir: string): Promise<boolean> {
  try {
    return !(await files.readdir(dir)).some((n) => /^wal-\d{20}\.log$/.test(n));
  } catch {
    return true;
  }
}

/** Snapshots loaded at start-up, and what replay must skip. */
export class Persistence {
  readonly backend: SnapshotBackend;
  readonly recovered: Recovered;
  /**
   * `afterLsn` for Wal.open: 0 normally (per-dataset skipping is {@link covers}'s job);
   * with no WAL at all, the highest snapshot LSN, so new entries get LSNs above every
   * snapshot's and are never mistaken for covered ones.
   */
  readonly walFloorLsn: bigint;
  private readonly config: NodeConfig;
  private readonly log: Logger;

  constructor(
    config: NodeConfig,
    log: Logger,
    backend: SnapshotBackend,
    recovered: Recovered,
    floor: bigint,
  ) {
    this.config = config;
    this.log = log;
    this.backend = backend;
    this.recovered = recovered;
    this.walFloorLsn = floor;
  }

  /** True when a replayed entry is already in its dataset's snapshot. */
  covers(entry: WalEntry): boolean {
    const c = this.recovered.get(entry.dataset);
    return c !== undefined && entry.lsn <= c.lsn;
  }

  /** The highest LSN any loaded snapshot covers (0 with none). */
  maxLsn(): bigint {
    let max = 0n;
    for (const c of this.recovered.values()) if (c.lsn > max) max = c.lsn;
    return max;
  }

  /**
   * Throws when the WAL ends before the snapshots do (an older WAL volume beside newer
   * snapshots): new entries would get LSNs that replay skips as covered.
   */
  checkWal(wal: Wal): void {
    const max = this.maxLsn();
    if (wal.lastLsn < max) {
      throw new Error(
        `the WAL ends at LSN ${wal.lastLsn} but snapshots cover up to LSN ${max}: the WAL in ${this.config.dataPath} is older than the snapshots; move it aside to start from the snapshots alone`,
      );
    }
  }

  /** Starts the snapshotter (ticker, WAL size trigger) and background compaction. */
  start(store: Store, wal: Wal, metrics: Metrics): Snapshotter {
    const compactor =
      this.config.compactionIntervalMs > 0
        ? new Compactor(store, { intervalMs: this.config.compactionIntervalMs }, () =>
            metrics.compactionMerges.inc(),
          )
        : undefined;
    const snapshotter = new Snapshotter(
      store,
      wal,
      {
        backend: this.backend,
        compression: this.config.snapshotCompression,
        intervalMs: this.config.snapshotIntervalMs,
        maxWalBytes: this.config.maxWalBytes,
        log: this.log,
        compactor,
        observer: {
          onSnapshot: (status, seconds, dataset, bytes) => {
            metrics.snapshotOps.inc({ status });
            if (status === 'ok') {
              metrics.snapshotDuration.observe(seconds);
              metrics.snapshotSize.set({ dataset }, bytes);
            }
          },
        },
      },
      this.recovered,
    );
    snapshotter.start();
    return snapshotter;
  }
}

/** Picks the backend and loads every snapshot into `store` (before WAL replay). */
export async function loadSnapshots(
  config: NodeConfig,
  store: Store,
  log: Logger,
  files: FileLayer = nodeFileLayer,
  onS3Request?: S3RequestObserver,
): Promise<Persistence> {
  const backend = createBackend(config, files, onS3Request);
  const started = performance.now();
  const recovered = await recoverSnapshots(backend, store, log);
  let max = 0n;
  for (const c of recovered.values()) if (c.lsn > max) max = c.lsn;
  const floor = (await walIsEmpty(files, config.dataPath)) ? max : 0n;
  log.info(
    {
      backend: backend.kind,
      datasets: recovered.size,
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      maxLsn: Number(max),
    },
    'snapshots loaded',
  );
  return new Persistence(config, log, backend, recovered, floor);
}
