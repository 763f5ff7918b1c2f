/**
 * Cluster-wide ListFlights: the node called asks every other live member on the ring for its
 * own datasets (one ListFlights each, with `x-longbow-scope: local`, over the forwarder's
 * channels to the members' meta addresses, in parallel), merges the answers with its own and
 * keeps each dataset as listed by its ring owner — the node every routed call for it goes to.
 * A copy held by a node that no longer owns the name (written while its owner was away; there
 * is no rebalancing yet) is left out, since calls for it would not reach that copy; a
 * `local`-scoped listing on the holder still shows it.
 *
 * Any member that does not answer fails the whole call with MEMBER_UNREACHABLE: a list with
 * datasets missing would look like data loss. Members declared dead have left the ring and
 * are not asked.
 */
import * as grpc from '@grpc/grpc-js';
import { byFlightName, type Criteria, type FlightInfo, flightName } from '@longbow/flight';
import { unavailableError } from './errors.ts';
import type { ForwardedCall, Forwarder } from './forwarder.ts';
import { HEADER_FORWARDED_BY, HEADER_SCOPE } from './routing.ts';

/** Longest a fan-out waits for all members when the caller set no deadline, ms. */
export const FAN_OUT_DEFAULT_TIMEOUT_MS = 30_000;

/** What a fan-out needs from the cluster wiring. */
export interface FanOutDeps {
  readonly selfId: string;
  readonly forwarder: Forwarder;
  /** Live ring members other than this node, with their meta addresses (`host:port`). */
  peers(): ReadonlyArray<{ readonly id: string; readonly metaAddr: string | undefined }>;
  /** The ring owner of a dataset name, or undefined on an empty ring. */
  owner(name: string): string | undefined;
}

/** Reads a raw ListFlights call to its status: the FlightInfos on OK, else rejects. */
function collect(call: ForwardedCall, criteria: Criteria): Promise<FlightInfo[]> {
  return new Promise((resolve, reject) => {
    const infos: FlightInfo[] = [];
    let ended = false;
    let status: grpc.StatusObject | undefined;
    const settle = (): void => {
      if (!status) return;
      if (status.code !== grpc.status.OK) reject(new Error(`${grpc.status[status.code]}: ${status.details}`));
      else if (ended) resolve(infos);
    };
    call.on('data', (info: FlightInfo) => infos.push(info));
    call.on('end', () => {
      ended = true;
      settle();
    });
    call.on('error', () => {}); // 'status' carries the same information
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
    call.write(criteria);
    call.end();
  });
}

/**
 * The cluster-wide listing for `criteria`: `local` (this node's FlightInfos, already
 * filtered by the criteria) merged with every live peer's, each dataset kept from its
 * owner, sorted by name.
 *
 * @param deadline the caller's deadline (Infinity: {@link FAN_OUT_DEFAULT_TIMEOUT_MS}).
 * @throws FlightStatusError UNAVAILABLE `MEMBER_UNREACHABLE: …` naming the first member
 *   that could not be reached or answered with an error.
 */
export async function listFlightsEverywhere(
  deps: FanOutDeps,
  criteria: Criteria,
  local: readonly FlightInfo[],
  deadline: grpc.Deadline,
): Promise<FlightInfo[]> {
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const by = new Date(Number.isFinite(deadlineMs) ? deadlineMs : Date.now() + FAN_OUT_DEFAULT_TIMEOUT_MS);
  const perPeer = await Promise.all(
    deps.peers().map(async (peer) => {
      const fail = (reason: string) =>
        unavailableError('MEMBER_UNREACHABLE', `ListFlights needs every member; ${peer.id}: ${reason}`);
      if (!peer.metaAddr) throw fail('no meta address in its gossip metadata');
      const md = new grpc.Metadata();
      md.set(HEADER_SCOPE, 'local');
      md.set(HEADER_FORWARDED_BY, deps.selfId);
      try {
        const call = await deps.forwarder.open(peer.metaAddr, 'ListFlights', md, by);
        return { id: peer.id, infos: await collect(call, criteria) };
      } catch (err) {
        throw fail(`at ${peer.metaAddr}: ${(err as Error).message}`);
      }
    }),
  );
  const merged: FlightInfo[] = [];
  for (const { id, infos } of [{ id: deps.selfId, infos: local }, ...perPeer])
    for (const info of infos) if (deps.owner(flightName(info)) === id) merged.push(info);
  return merged.sort(byFlightName);
}
