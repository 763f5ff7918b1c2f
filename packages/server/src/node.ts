/**
 * One Longbow node: wires config, WAL, store, index workers, the two Flight servers and
 * the HTTP server, and runs the lifecycle.
 *
 * Start: HTTP up first (so probes answer during a long replay) → index workers → snapshots
 * loaded (snapshot/) → WAL replay, skipping entries the snapshots cover → Flight servers
 * bound → `ready`.
 * Stop (SIGTERM/SIGINT): `draining` (new calls get UNAVAILABLE) → in-flight calls finish
 * within `shutdownGraceMs` → WAL flushed and fsynced → final snapshot and WAL truncation
 * (within `shutdownSnapshotTimeoutMs`) → workers stopped → `stopped`.
 */
import type http from 'node:http';
import type { Server } from '@grpc/grpc-js';
import { HybridClock } from '@longbow/cluster';
import { bindInsecure, createFlightServer, shutdownServer } from '@longbow/flight';
import type { NodeContext } from './api/context.ts';
import { dataHandlers, metaHandlers } from './api/services.ts';
import { createCluster } from './cluster/cluster.ts';
import { Committer, replayEntry } from './commit/committer.ts';
import { type NodeConfig, splitAddr } from './config.ts';
import { httpPort, startHttpServer } from './http.ts';
import { IndexPool } from './index/index-pool.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { loadSnapshots } from './snapshot/persistence.ts';
import { type FileLayer, nodeFileLayer } from './storage/file-layer.ts';
import { Store } from './store/store.ts';
import { Wal } from './wal/wal.ts';

/** Ports a started node listens on (useful when configured with port 0). */
export interface NodePorts {
  data: number;
  meta: number;
  http: number;
}

/** What a node is built on besides its config; tests inject faults and time here. */
export interface NodeDeps {
  /** The file layer under the WAL and local snapshots (default: the real file system). */
  files?: FileLayer;
  /** Wall clock, ms since the Unix epoch: row versions and `created_at` (default Date.now). */
  nowMs?: () => number;
}

/** A running node. Create with {@link LongbowNode.start}. */
export class LongbowNode {
  readonly ctx: NodeContext;
  readonly ports: NodePorts;
  private readonly servers: { data: Server; meta: Server; http: http.Server };
  private readonly pool: IndexPool;
  private stopping: Promise<void> | undefined;

  private constructor(ctx: NodeContext, ports: NodePorts, servers: LongbowNode['servers'], pool: IndexPool) {
    this.ctx = ctx;
    this.ports = ports;
    this.servers = servers;
    this.pool = pool;
  }

  /** Starts a node; resolves once it is ready. Throws (after cleaning up) if start-up fails. */
  static async start(
    config: NodeConfig,
    log: Logger = createLogger(config.nodeId, config.logLevel),
    deps: NodeDeps = {},
  ): Promise<LongbowNode> {
    const files = deps.files ?? nodeFileLayer;
    const metrics = new Metrics(config.nodeId);
    let state: NodeContext['state'] = 'starting';
    let ctxRef: NodeContext | undefined;
    const httpServer = await startHttpServer(
      config.metricsAddr,
      metrics,
      () => ctxRef?.state ?? state,
      () => ctxRef?.wal.failure,
    );
    const pool = new IndexPool(
      config.indexWorkers,
      (err) => log.error({ err }, 'index worker failed'),
      () => metrics.indexWorkerRestarts.inc(),
    );
    try {
      const store = new Store(pool, config, (name) =>
        log.warn({ dataset: name }, 'rebuilding index after a worker failure'),
      );
      const persistence = await loadSnapshots(config, store, log, files, (operation, ok) =>
        metrics.s3Requests.inc({ operation, outcome: ok ? 'ok' : 'error' }),
      );
      const replayStart = performance.now();
      let replayed = 0;
      const clock = new HybridClock(config.nodeId, deps.nowMs);
      const wal = await Wal.open(
        {
          dir: config.dataPath,
          files,
          segmentBytes: config.walSegmentBytes,
          queueBytesMax: config.walQueueBytesMax,
          asyncFsync: config.asyncFsync,
          flushIntervalMs: config.walFlushIntervalMs,
          observer: {
            onFlush: (n, bytes, fsyncSeconds) => {
              metrics.walWrites.inc({ status: 'ok' }, n);
              metrics.walBytes.inc(bytes);
              metrics.walGroupEntries.observe(n);
              if (!config.asyncFsync) metrics.walFsync.observe(fsyncSeconds);
            },
            onFsync: (ok) => metrics.flushOps.inc({ status: ok ? 'ok' : 'error' }),
            onFailure: (err) => {
              metrics.walWrites.inc({ status: 'error' });
              log.error({ err }, 'WAL write failed: refusing further writes until restart');
            },
            onTornTail: (file, offset, reason) =>
              log.warn({ file, offset, reason }, 'WAL torn tail truncated'),
          },
        },
        (entry) => {
          const covered = persistence.covers(entry);
          replayEntry(store, clock, entry, covered);
          if (!covered) replayed++;
        },
        persistence.walFloorLsn,
      );
      const committer = new Committer(store, wal, clock, {
        onCommit: (_op, seconds) => metrics.walAckSeconds.observe(seconds),
      });
      persistence.checkWal(wal);
      const replaySeconds = (performance.now() - replayStart) / 1000;
      metrics.walReplaySeconds.observe(replaySeconds);
      metrics.attach(store, wal, config.maxMemoryBytes);
      log.info(
        { entries: replayed, seconds: Number(replaySeconds.toFixed(3)), lastLsn: Number(wal.lastLsn) },
        'WAL replayed',
      );
      const ctx: NodeContext = { config, store, wal, committer, metrics, log, state, dataPort: 0 };
      ctxRef = ctx;
      ctx.snapshots = persistence.start(store, wal, metrics);
      ctx.cluster = createCluster(config, log, metrics);
      const opts = { maxMessageBytes: config.maxMessageBytes * 2 };
      const data = createFlightServer(dataHandlers(ctx), {
        ...opts,
        grpcOptions: ctx.cluster?.serverOptions('data'),
      });
      const meta = createFlightServer(metaHandlers(ctx), {
        ...opts,
        grpcOptions: ctx.cluster?.serverOptions('meta'),
      });
      const dataPort = await bindInsecure(data, config.listenAddr);
      ctx.dataPort = dataPort;
      const metaPort = await bindInsecure(meta, config.metaAddr);
      ctx.metaPort = metaPort;
      await ctx.cluster?.start({ data: dataPort, meta: metaPort });
      ctx.state = 'ready';
      const ports = { data: dataPort, meta: metaPort, http: httpPort(httpServer) };
      log.info(
        { ports, advertiseHost: config.advertiseHost, datasets: store.list().length },
        'Longbow node ready',
      );
      return new LongbowNode(ctx, ports, { data, meta, http: httpServer }, pool);
    } catch (err) {
      state = 'stopped';
      await ctxRef?.snapshots?.close();
      await pool.close();
      await new Promise((resolve) => httpServer.close(resolve));
      throw err;
    }
  }

  /**
   * Applies the settings that change without a restart (SIGHUP): `maxMemoryBytes` and
   * `snapshotIntervalMs` from `next`; the rest of `next` is ignored. Returns the values now
   * in force.
   */
  reload(next: NodeConfig): { maxMemoryBytes: number; snapshotIntervalMs: number } {
    const ctx = this.ctx as { config: NodeConfig } & NodeContext;
    ctx.config = Object.freeze({
      ...ctx.config,
      maxMemoryBytes: next.maxMemoryBytes,
      snapshotIntervalMs: next.snapshotIntervalMs,
    });
    ctx.store.setMemoryLimit(next.maxMemoryBytes);
    ctx.metrics.attach(ctx.store, ctx.wal, next.maxMemoryBytes);
    ctx.snapshots?.setIntervalMs(next.snapshotIntervalMs);
    return { maxMemoryBytes: next.maxMemoryBytes, snapshotIntervalMs: next.snapshotIntervalMs };
  }

  /** Graceful shutdown (idempotent). */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { ctx } = this;
    const started = performance.now();
    ctx.state = 'draining';
    ctx.log.info('draining: no new calls, waiting for in-flight calls');
    await ctx.cluster?.stop(); // leave first: peers stop routing here while we drain
    const grace = ctx.config.shutdownGraceMs;
    await Promise.all([shutdownServer(this.servers.data, grace), shutdownServer(this.servers.meta, grace)]);
    await ctx.wal.flush();
    await ctx.snapshots?.finalSnapshot(ctx.config.shutdownSnapshotTimeoutMs);
    await ctx.snapshots?.close();
    await ctx.wal.close();
    await this.pool.close();
    ctx.state = 'stopped';
    await new Promise((resolve) => this.servers.http.close(resolve));
    ctx.log.info(
      {
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
        lastLsn: Number(ctx.wal.lastLsn),
      },
      'Longbow node stopped',
    );
  }

  /** The data server's address as `host:port` for clients on this machine. */
  dataAddress(): string {
    return `${splitAddr(this.ctx.config.listenAddr).host.replace('0.0.0.0', '127.0.0.1')}:${this.ports.data}`;
  }

  /** The meta server's address as `host:port` for clients on this machine. */
  metaAddress(): string {
    return `${splitAddr(this.ctx.config.metaAddr).host.replace('0.0.0.0', '127.0.0.1')}:${this.ports.meta}`;
  }
}
