/**
 * The cluster part of a node: gossip membership, the ring, the forwarder and the partition
 * proxy interceptors, started only when `LONGBOW_GOSSIP_ENABLED=true`.
 *
 * Life: `new ClusterNode(...)` before the Flight servers are built (they take its
 * interceptors) → servers bound → `start({data, meta})` advertises `advertiseHost:<port>`
 * for both servers in the member metadata and joins the seeds → `stop()` leaves gracefully
 * (peers re-route at once instead of waiting for failure detection) and closes channels.
 *
 * Until `start` has run the proxy serves every call locally, so a call during start-up gets
 * the handler's own NOT_READY rather than a routing error.
 */
import type * as grpc from '@grpc/grpc-js';
import {
  DEFAULT_POINTS_PER_NODE,
  type GossipConfig,
  GossipNode,
  joinHostPort,
  type Member,
  type MemberEventType,
  RingManager,
} from '@longbow/cluster';
import type { Criteria, FlightInfo } from '@longbow/flight';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import { listFlightsEverywhere } from './fanout.ts';
import { Forwarder } from './forwarder.ts';
import { partitionInterceptor } from './interceptor.ts';
import { decideRoute, type PortKind, type Route, type RoutingMode } from './routing.ts';

/** What the cluster part needs from the node's configuration. */
export interface ClusterSettings {
  readonly nodeId: string;
  /** Host put into advertised data/meta addresses (never a wildcard). */
  readonly advertiseHost: string;
  readonly gossip: GossipConfig;
  readonly routingMode: RoutingMode;
  /** Largest Flight message, bytes (forwarded channels use the same limit). */
  readonly maxMessageBytes: number;
  /** Connect deadline of forwarded calls, ms. */
  readonly forwardConnectTimeoutMs: number;
  /** Software version announced in member metadata. */
  readonly version: string;
}

/** One member as `cluster_status` reports it. */
export interface MemberStatus {
  readonly id: string;
  readonly state: string;
  readonly incarnation: number;
  readonly gossip_addr: string;
  readonly data_addr: string;
  readonly meta_addr: string;
}

/** The `cluster_status` action's answer (snake_case keys, as every action result). */
export interface ClusterStatus {
  readonly node_id: string;
  readonly gossip_enabled: boolean;
  readonly routing_mode: RoutingMode;
  readonly members: readonly MemberStatus[];
  readonly ring: {
    readonly version: number;
    readonly nodes: readonly string[];
    readonly points_per_node: number;
  };
  readonly peers: ReturnType<Forwarder['health']>;
}

const EVENTS: readonly MemberEventType[] = ['join', 'update', 'leave', 'dead'];
/** Longest a graceful leave waits for its broadcast at shutdown, ms. */
export const LEAVE_TIMEOUT_MS = 2000;

/** Gossip, ring, forwarder and interceptors of one node. */
export class ClusterNode {
  readonly settings: ClusterSettings;
  readonly ring = new RingManager();
  readonly forwarder: Forwarder;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private gossip: GossipNode | undefined;
  private readonly members = new Map<string, Member>();
  private started = false;

  constructor(settings: ClusterSettings, log: Logger, metrics: Metrics) {
    this.settings = settings;
    this.log = log.child({ component: 'cluster' });
    this.metrics = metrics;
    this.forwarder = new Forwarder({
      maxMessageBytes: settings.maxMessageBytes,
      connectTimeoutMs: settings.forwardConnectTimeoutMs,
    });
    metrics.attachCluster({
      memberCounts: () => this.gossip?.stats().members ?? {},
      messageCounts: () => {
        const stats: Record<string, { sent: number; received: number }> = this.gossip?.stats().messages ?? {};
        return Object.entries(stats).flatMap(([type, c]) => [
          { type, direction: 'sent', count: c.sent },
          { type, direction: 'received', count: c.received },
        ]);
      },
      ringNodeCount: () => this.ring.nodes().length,
    });
  }

  /** The interceptor for the server of kind `port`; pass it in that server's options. */
  interceptor(port: PortKind): grpc.ServerInterceptor {
    return partitionInterceptor({
      port,
      selfId: this.settings.nodeId,
      forwarder: this.forwarder,
      route: (key, p, wantsRedirect, hops) => this.route(key, p, wantsRedirect, hops),
      onOutcome: (method, outcome) => this.metrics.proxyRequests.inc({ method, outcome }),
      startForwardTimer: (method) => this.metrics.forwardDuration.startTimer({ method }),
      onForwardError: (method, addr, err) =>
        this.log.warn({ method, addr, err: err.message }, 'forwarding failed'),
    });
  }

  /** grpc-js server options that install this node's interceptor on the server of kind `port`. */
  serverOptions(port: PortKind): grpc.ServerOptions {
    return { interceptors: [this.interceptor(port)] };
  }

  /** Decides a call's route from the current ring and member table (see routing.ts). */
  route(key: string | undefined, port: PortKind, clientWantsRedirect: boolean, hops: number): Route {
    if (!this.started) return { kind: 'local' };
    const ownerId = key === undefined ? undefined : this.ring.owner(key);
    const m = ownerId === undefined ? undefined : this.members.get(ownerId);
    return decideRoute({
      key,
      selfId: this.settings.nodeId,
      ownerId,
      owner: m && { id: m.id, state: m.state, dataAddr: m.meta.dataAddr, metaAddr: m.meta.metaAddr },
      mode: this.settings.routingMode,
      clientWantsRedirect,
      hops,
      port,
    });
  }

  /**
   * ListFlights for the whole cluster (fanout.ts): `local` (this node's FlightInfos for
   * `criteria`) merged with every live peer's, each dataset as its ring owner lists it,
   * sorted by name. Before `start` (no ring yet) it is `local` as given.
   *
   * @throws FlightStatusError UNAVAILABLE `MEMBER_UNREACHABLE` when a live member does not answer.
   */
  async listFlights(criteria: Criteria, local: FlightInfo[], deadline: grpc.Deadline): Promise<FlightInfo[]> {
    if (!this.started) return local;
    const selfId = this.settings.nodeId;
    return listFlightsEverywhere(
      {
        selfId,
        forwarder: this.forwarder,
        peers: () =>
          this.ring
            .nodes()
            .filter((id) => id !== selfId)
            .map((id) => ({ id, metaAddr: this.members.get(id)?.meta.metaAddr })),
        owner: (name) => this.ring.owner(name),
      },
      criteria,
      local,
      deadline,
    );
  }

  /**
   * Starts gossip with this node's bound Flight ports in its metadata and joins the seeds
   * (waits up to the gossip config's `joinTimeoutMs` for one to answer).
   */
  async start(ports: { data: number; meta: number }): Promise<void> {
    const { settings } = this;
    const host = settings.advertiseHost;
    const gossip = new GossipNode({
      config: settings.gossip,
      meta: {
        nodeId: settings.nodeId,
        dataAddr: joinHostPort(host, ports.data),
        metaAddr: joinHostPort(host, ports.meta),
        version: settings.version,
      },
    });
    this.gossip = gossip;
    const track = (m: Member): void => {
      this.members.set(m.id, m);
    };
    for (const t of EVENTS) gossip.on(t, track);
    gossip.on('dead', (m) => this.log.warn({ member: m.id, addr: m.addr }, 'member dead'));
    gossip.on('leave', (m) => this.log.info({ member: m.id }, 'member left'));
    gossip.on('join', (m) => this.log.info({ member: m.id, addr: m.addr }, 'member joined'));
    gossip.on('warning', (err) => this.log.debug({ err: err.message }, 'gossip warning'));
    this.ring.attach(gossip);
    this.ring.on('change', (c) => {
      this.log.info(
        { version: c.version, nodes: c.nodes, added: c.added, removed: c.removed },
        'ring changed',
      );
      const live = new Set<string>();
      for (const id of c.nodes) {
        const meta = this.members.get(id)?.meta;
        if (meta) live.add(meta.dataAddr).add(meta.metaAddr);
      }
      this.forwarder.retain(live);
    });
    await gossip.start();
    for (const m of gossip.members()) track(m);
    this.started = true;
    this.log.info(
      { gossipAddr: gossip.addr, members: this.ring.nodes(), mode: settings.routingMode },
      'cluster joined',
    );
  }

  /** Leaves gracefully (bounded by {@link LEAVE_TIMEOUT_MS}) and closes everything. */
  async stop(): Promise<void> {
    const gossip = this.gossip;
    this.started = false;
    if (gossip) {
      try {
        await gossip.leave(LEAVE_TIMEOUT_MS);
      } catch (err) {
        this.log.warn({ err }, 'graceful leave failed');
      }
      await gossip.stop();
    }
    this.forwarder.close();
  }

  /** The `cluster_status` answer: this node, every known member, the ring, peer channels. */
  status(): ClusterStatus {
    const members = (this.gossip?.members() ?? []).map((m) => ({
      id: m.id,
      state: m.state,
      incarnation: m.incarnation,
      gossip_addr: m.addr,
      data_addr: m.meta.dataAddr,
      meta_addr: m.meta.metaAddr,
    }));
    return {
      node_id: this.settings.nodeId,
      gossip_enabled: true,
      routing_mode: this.settings.routingMode,
      members,
      ring: {
        version: this.ring.version,
        nodes: this.ring.nodes(),
        points_per_node: this.ring.pointsPerNode,
      },
      peers: this.forwarder.health(),
    };
  }
}

/**
 * `cluster_status` of a node without gossip: itself, alive, owning the whole ring — so a
 * smart client treats a single node like a cluster of one.
 */
export function singleNodeStatus(
  nodeId: string,
  dataAddr: string,
  metaAddr: string,
  routingMode: RoutingMode,
): ClusterStatus {
  return {
    node_id: nodeId,
    gossip_enabled: false,
    routing_mode: routingMode,
    members: [
      {
        id: nodeId,
        state: 'alive',
        incarnation: 0,
        gossip_addr: '',
        data_addr: dataAddr,
        meta_addr: metaAddr,
      },
    ],
    ring: { version: 0, nodes: [nodeId], points_per_node: DEFAULT_POINTS_PER_NODE },
    peers: [],
  };
}

/** Software version announced to peers (the server package's version). */
export const NODE_VERSION = '0.1.0';

/** The cluster part for `config`, or undefined when gossip is disabled. */
export function createCluster(config: NodeConfig, log: Logger, metrics: Metrics): ClusterNode | undefined {
  if (!config.gossip.enabled) return undefined;
  return new ClusterNode(
    {
      nodeId: config.nodeId,
      advertiseHost: config.advertiseHost,
      gossip: config.gossip,
      routingMode: config.routingMode,
      maxMessageBytes: config.maxMessageBytes * 2,
      forwardConnectTimeoutMs: config.forwardConnectTimeoutMs,
      version: NODE_VERSION,
    },
    log,
    metrics,
  );
}
