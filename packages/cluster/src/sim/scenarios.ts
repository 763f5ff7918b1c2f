/**
 * Measured scenarios on the simulation, shared by the CI tests (small N) and the bench
 * (N up to 500): how long a join takes to reach everyone, how long until a crash is
 * declared dead, how many healthy members are declared dead under loss or beside a slow
 * member, and what it costs in messages per node per second.
 */
import { type GossipConfig, resolveGossipConfig } from '../gossip/config.ts';
import { type SimNetworkOptions, Simulation } from './simulation.ts';

/** Lifeguard off: fixed suspicion timeout, no local health scaling, no buddy system (plain SWIM). */
export function withoutLifeguard(config: GossipConfig): GossipConfig {
  return resolveGossipConfig({
    ...config,
    staticPeers: [...config.staticPeers],
    awarenessMaxMultiplier: 1,
    suspicionMaxTimeoutMult: 1,
    buddySystemEnabled: false,
  });
}

export interface ClusterOptions {
  readonly size: number;
  readonly config: GossipConfig;
  readonly seed: number;
  readonly network?: Partial<SimNetworkOptions>;
  readonly wire?: boolean;
  /** Time between successive node starts (ms). Default 20. */
  readonly joinSpacingMs?: number;
}

/** Node id `n<i>`, zero-padded so ids sort numerically. */
export function nodeId(i: number, size: number): string {
  return `n${String(i).padStart(String(size).length, '0')}`;
}

/**
 * Boots a cluster: node i starts at i * joinSpacingMs and joins through node 0, then runs
 * until every node sees every other alive (or `settleLimitMs` passes).
 * @returns the simulation and the time convergence took (ms after the last start), or -1.
 */
export function bootCluster(
  opts: ClusterOptions,
  settleLimitMs = 120_000,
): { sim: Simulation; convergedMs: number } {
  const sim = new Simulation({
    seed: opts.seed,
    config: opts.config,
    network: opts.network,
    wire: opts.wire,
  });
  const spacing = opts.joinSpacingMs ?? 20;
  for (let i = 0; i < opts.size; i++) {
    sim.runUntil(i * spacing);
    sim.addNode(nodeId(i, opts.size), i === 0 ? [] : [nodeId(0, opts.size)]);
  }
  const started = sim.nowMs;
  // Checking every node's view is O(N^2): do it every 50 ms of virtual time, not per event.
  while (!allSeeAlive(sim, opts.size) && sim.nowMs < started + settleLimitMs) sim.runFor(50);
  return { sim, convergedMs: allSeeAlive(sim, opts.size) ? sim.nowMs - started : -1 };
}

function allSeeAlive(sim: Simulation, size: number): boolean {
  for (const id of sim.nodeIds()) {
    if (sim.isCrashed(id)) continue;
    if (sim.core(id).stats().members.alive < size) return false;
  }
  return true;
}

/** Time (ms) until every running node has seen `newId` join; -1 if not within `limitMs`. */
export function measureJoin(sim: Simulation, newId: string, seedId: string, limitMs = 120_000): number {
  const start = sim.nowMs;
  const waiting = new Set(sim.nodeIds().filter((id) => !sim.isCrashed(id)));
  const prev = sim.onEvent;
  sim.onEvent = (e) => {
    if (e.event.type === 'join' && e.event.member.id === newId) waiting.delete(e.observer);
  };
  sim.addNode(newId, [seedId]);
  waiting.delete(newId);
  sim.runUntil(start + limitMs, () => waiting.size === 0);
  sim.onEvent = prev;
  return waiting.size === 0 ? sim.nowMs - start : -1;
}

export interface DetectionResult {
  /** First node to declare the victim dead (ms after the crash). */
  readonly firstMs: number;
  /** Last running node to declare it dead (ms after the crash), -1 if some never did. */
  readonly allMs: number;
}

/** Crashes `victim` and measures how long until it is declared dead. */
export function measureDetection(sim: Simulation, victim: string, limitMs = 120_000): DetectionResult {
  const start = sim.nowMs;
  sim.crash(victim);
  const waiting = new Set(sim.nodeIds().filter((id) => !sim.isCrashed(id)));
  let firstMs = -1;
  const prev = sim.onEvent;
  sim.onEvent = (e) => {
    if (e.event.type === 'dead' && e.event.member.id === victim) {
      if (firstMs < 0) firstMs = sim.nowMs - start;
      waiting.delete(e.observer);
    }
  };
  sim.runUntil(start + limitMs, () => waiting.size === 0);
  sim.onEvent = prev;
  return { firstMs, allMs: waiting.size === 0 ? sim.nowMs - start : -1 };
}

export interface FalsePositiveResult {
  /** `dead` events (any observer) about members that were in fact running. */
  readonly deadEventCount: number;
  /** Distinct running members declared dead by at least one member. */
  readonly membersDeclaredDead: number;
  /** Distinct running members, other than the slow one, declared dead by someone. */
  readonly healthyDeclaredDead: number;
  /** Suspicions raised about running members (update events to suspect, any observer). */
  readonly suspectEventCount: number;
  /** Distinct suspicions: (member, incarnation) pairs ever suspected. */
  readonly suspicionCount: number;
  readonly durationMs: number;
}

/** Runs `durationMs` with nobody crashed and counts members wrongly declared dead. */
export function measureFalsePositives(
  sim: Simulation,
  durationMs: number,
  slowId?: string,
): FalsePositiveResult {
  const start = sim.nowMs;
  let deadEventCount = 0;
  let suspectEventCount = 0;
  const suspicions = new Set<string>();
  const declared = new Set<string>();
  const prev = sim.onEvent;
  sim.onEvent = (e) => {
    if (sim.isCrashed(e.event.member.id)) return;
    if (e.event.type === 'dead') {
      deadEventCount++;
      declared.add(e.event.member.id);
    }
    if (e.event.type === 'update' && e.event.member.state === 'suspect') {
      suspectEventCount++;
      suspicions.add(`${e.event.member.id}@${e.event.member.incarnation}`);
    }
  };
  sim.runUntil(start + durationMs);
  sim.onEvent = prev;
  return {
    deadEventCount,
    membersDeclaredDead: declared.size,
    healthyDeclaredDead: [...declared].filter((id) => id !== slowId).length,
    suspectEventCount,
    suspicionCount: suspicions.size,
    durationMs,
  };
}

export interface CostResult {
  readonly packetsPerNodePerSecond: number;
  readonly messagesPerNodePerSecond: number;
}

/** Packets and messages (piggybacked ones counted) sent per running node per second over `durationMs`. */
export function measureCost(sim: Simulation, durationMs: number): CostResult {
  const running = () => sim.nodeIds().filter((id) => !sim.isCrashed(id));
  const messages = () =>
    running().reduce((sum, id) => {
      const m = sim.core(id).stats().messages;
      return sum + Object.values(m).reduce((a, c) => a + c.sent, 0);
    }, 0);
  const packets0 = sim.packetsSent();
  const messages0 = messages();
  sim.runFor(durationMs);
  const nodeSeconds = (running().length * durationMs) / 1000;
  return {
    packetsPerNodePerSecond: (sim.packetsSent() - packets0) / nodeSeconds,
    messagesPerNodePerSecond: (messages() - messages0) / nodeSeconds,
  };
}
