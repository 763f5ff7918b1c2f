/**
 * What the Flight handlers share: configuration, the store, the WAL, metrics, the logger
 * and the node's lifecycle state.
 */
import type { Logger } from 'pino';
import type { ClusterNode } from '../cluster/cluster.ts';
import type { Committer } from '../commit/committer.ts';
import type { NodeConfig } from '../config.ts';
import { ErrorCode, LongbowError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { Store } from '../store/store.ts';
import type { Wal } from '../wal/wal.ts';

/**
 * Node lifecycle: `starting → ready → draining → stopped`. Only `ready` serves data calls;
 * `/readyz` reports it.
 */
export type LifecycleState = 'starting' | 'ready' | 'draining' | 'stopped';

/** Shared state of one node's handlers. */
export interface NodeContext {
  readonly config: NodeConfig;
  readonly store: Store;
  readonly wal: Wal;
  /** The one commit path (puts, deletes, drops). */
  readonly committer: Committer;
  readonly metrics: Metrics;
  readonly log: Logger;
  state: LifecycleState;
  /** The data server's bound port (differs from the configured one when that is 0). */
  dataPort: number;
  /** The meta server's bound port, once bound. */
  metaPort?: number;
  /** Snapshots (force_snapshot, query_analytics); absent only in tests that build a context by hand. */
  snapshots?: Snapshotter;
  /** Gossip, ring and partition proxy; absent when gossip is disabled (a single node). */
  cluster?: ClusterNode;
}

/** Throws UNAVAILABLE (NOT_READY or SHUTTING_DOWN) unless the node is ready. */
export function checkServing(ctx: NodeContext): void {
  if (ctx.state === 'ready') return;
  if (ctx.state === 'starting')
    throw new LongbowError(ErrorCode.notReady, 'node is starting (replaying the WAL); retry shortly');
  throw new LongbowError(ErrorCode.shuttingDown, 'node is shutting down');
}
