/**
 * `@longbow/cluster` — SWIM + Lifeguard gossip over `node:dgram` and the consistent-hash
 * ring manager. This file is the whole public surface.
 *
 * Typical use by the server:
 *
 * ```ts
 * import { GossipNode, RingManager, gossipInputFromEnv, resolveGossipConfig } from '@longbow/cluster';
 *
 * const config = resolveGossipConfig(gossipInputFromEnv(process.env)); // throws ClusterConfigError naming the field
 * if (config.enabled) {
 *   const gossip = new GossipNode({
 *     config,
 *     meta: { nodeId, dataAddr: '10.0.0.7:3000', metaAddr: '10.0.0.7:3001', zone, version },
 *   });
 *   const ring = new RingManager({ pointsPerNode: 640 });
 *   ring.attach(gossip);                   // before start(): sees every join event
 *   gossip.on('dead', (m) => log.warn('member dead', m.id));
 *   await gossip.start();                  // binds UDP+TCP on config.port, joins seeds
 *   ring.owner('my-dataset');              // node id of the owner
 *   ring.successors('my-dataset', 3);      // owner then replicas, distinct
 *   // metrics: gossip.stats().messages[type].sent/received  -> longbow_gossip_messages_total{type,direction}
 *   //          gossip.stats().members[state]                -> longbow_gossip_members{state}
 *   //          ring.nodes().length (on ring 'change')       -> longbow_ring_nodes
 *   // shutdown:
 *   await gossip.leave(5_000);
 *   await gossip.stop();
 * }
 * ```
 */

export {
  ClusterConfigError,
  ClusterError,
  ClusterErrorCode,
  GossipDecodeError,
  GossipLifecycleError,
  GossipMessageTooLargeError,
} from './errors.ts';
export {
  decodePacket,
  encodePacket,
  PROTOCOL_VERSION,
  PUSH_PULL_SIZE_MAX_BYTES,
} from './gossip/codec.ts';
export {
  GOSSIP_ENV,
  GOSSIP_PRESETS,
  type GossipConfig,
  type GossipConfigInput,
  type GossipPresetName,
  gossipInputFromEnv,
  joinHostPort,
  LAN_PRESET,
  LOCAL_PRESET,
  resolveGossipConfig,
  splitHostPort,
} from './gossip/config.ts';
export {
  type CoreOutput,
  GossipCore,
  type GossipCoreOptions,
  type GossipStats,
  type Outbound,
} from './gossip/gossip-core.ts';
export {
  GossipNode,
  type GossipNodeEvents,
  type GossipNodeOptions,
  type GossipNodeStats,
} from './gossip/gossip-node.ts';
export { isLive, type Member, type MemberEvent, type MemberEventType } from './gossip/member.ts';
export {
  type MemberMeta,
  MemberStateCode,
  type MemberStateName,
  type Message,
  type MessageType,
  MessageTypeCode,
  type Packet,
} from './gossip/messages.ts';
export { type Random, seededRandom } from './gossip/random.ts';
export { type LookupAll, resolveSeeds, type SeedResolution } from './gossip/seeds.ts';
export {
  type Ballot,
  type ConsensusDurable,
  type ConsensusHost,
  type ConsensusMessage,
  ConsensusNode,
  type ConsensusOptions,
  compareBallots,
  type Outbound as ConsensusOutbound,
  type Proposal,
  type ProposalOutcome,
} from './replication/consensus.ts';
export {
  compareDigests,
  DEFAULT_DIGEST_DEPTH,
  DigestComparison,
  entryHash,
  leafOf,
  ShardDigest,
} from './replication/digest.ts';
export { type Hint, type HintCounters, HintLog } from './replication/hints.ts';
export {
  defaultReplicationFactor,
  defaultShardCount,
  EMPTY_TOPOLOGY,
  Placement,
  shardKey,
  type Topology,
} from './replication/placement.ts';
export {
  CONSISTENCY_LEVELS,
  type Consistency,
  chooseReadReplicas,
  newerEntry,
  parseConsistency,
  type ReplicaState,
  type Resolution,
  requiredReplicas,
  resolveEntry,
  type VersionedEntry,
  type WriteOutcome,
  WriteTracker,
} from './replication/quorum.ts';
export { CatchUp, ShardReplica } from './replication/replica.ts';
export { fmix32, fnv1a32, keyHash, type RowKey, shardOf } from './replication/shard-key.ts';
export {
  DEFAULT_POINTS_PER_NODE,
  ketamaRing,
  type MembershipSource,
  type RingChange,
  RingManager,
  type RingManagerOptions,
} from './ring/ring-manager.ts';
export {
  type Anomaly,
  type ReplicationSimOptions,
  type ReplicationSimResult,
  runReplicationSim,
} from './sim/replication-sim.ts';
export {
  compareVersions,
  decodeHlc,
  encodeHlc,
  HybridClock,
  LOGICAL_MAX,
  maxVersion,
  nodeTag,
  PHYSICAL_MS_MAX,
  type Version,
  ZERO_VERSION,
} from './versions/version.ts';
