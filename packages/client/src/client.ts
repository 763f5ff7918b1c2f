/**
 * LongbowClient: a smart client over `@longbow/flight`.
 *
 * Routing: on `connect()` (and after any miss) it asks a node for `cluster_status` and
 * builds a {@link ClusterView}; each dataset request goes straight to the owner of the
 * dataset with `x-longbow-key: <dataset>` and `x-longbow-routing: redirect`, so nodes never
 * proxy it and a stale view costs one FORWARD_REQUIRED answer, which the client follows (at
 * most `maxRedirects` times per request) while refreshing its view.
 *
 * Retries: UNAVAILABLE (a node down or shutting down, OWNER_UNREACHABLE, NO_OWNER,
 * TOO_MANY_HOPS, connection refused) is retried with exponential backoff and full jitter,
 * refreshing the view each time (a dead owner's keys move to its successor once gossip
 * declares it dead), for at most `maxRetries` retries and `retryBudgetMs` after the first
 * failure, whichever ends first. Puts are safe to retry: rows are upserts by id. Every call
 * carries a deadline (`timeoutMs`).
 */
import * as grpc from '@grpc/grpc-js';
import {
  byFlightName,
  FlightClient,
  type FlightInfo,
  flightName,
  type PutResult,
  pathDescriptor,
} from '@longbow/flight';
import type { RecordBatch, Schema, Table } from 'apache-arrow';
import { backoffDelayMs } from './backoff.ts';
import { type ClientClock, realClock } from './clock.ts';
import { ClientErrorCode, fromServiceError, LongbowClientError, type ServiceErrorLike } from './errors.ts';
import { type ClusterStatusAnswer, ClusterView } from './view.ts';

/** Options of {@link LongbowClient}. Durations in ms. */
export interface LongbowClientOptions {
  /** Data addresses (`host:port`) of one or more nodes to learn the cluster from. Required. */
  readonly seeds: readonly string[];
  /** Deadline of each call, ms. Default 30000. */
  readonly timeoutMs?: number;
  /** FORWARD_REQUIRED answers followed per request. Default 3. */
  readonly maxRedirects?: number;
  /**
   * Retries of UNAVAILABLE per request (a bound on attempts; `retryBudgetMs` is the bound
   * on time). Default 20, enough that the budget, not the count, ends a default client's
   * retries (full jitter sleeps half the ceiling on average).
   */
  readonly maxRetries?: number;
  /**
   * How long a request keeps retrying UNAVAILABLE, ms from its first failure (back-off
   * sleeps and the attempts between them, by `clock`). The last sleep is cut to what is
   * left; once nothing is left the last error is thrown. Default 10000: longer than the
   * gossip failure detection of the LAN preset for up to 10 members (a probe period, 1 s,
   * plus the minimum suspicion timeout, 4 s, plus dissemination: about 6 s), so a request
   * to a crashed owner waits until its key has moved to the successor instead of failing
   * while the cluster still thinks the owner is alive. Larger clusters (suspicion grows
   * with log10 N) and suspicions without enough independent confirmations (up to 6× the
   * minimum) take longer: raise it there, or handle `OWNER_UNREACHABLE` yourself.
   */
  readonly retryBudgetMs?: number;
  /** First backoff ceiling, ms (doubles per retry, full jitter). Default 100. */
  readonly backoffBaseMs?: number;
  /** Largest backoff ceiling, ms. Default 2000. */
  readonly backoffMaxMs?: number;
  /** Deadline of a `cluster_status` call while refreshing, ms. Default 2000. */
  readonly refreshTimeoutMs?: number;
  /** Random source for jitter, [0, 1). Default Math.random. */
  readonly random?: () => number;
  /**
   * Time source of back-off sleeps and the retry budget (clock.ts). Default real time
   * (`performance.now`, `setTimeout`); tests pass one that records sleeps.
   */
  readonly clock?: ClientClock;
}

/** A k-NN search (ticket keys as the server documents them in docs/protocol.md). */
export interface SearchQuery {
  readonly vector?: readonly number[];
  readonly vectors?: ReadonlyArray<readonly number[]>;
  readonly id?: number | string;
  readonly k?: number;
  readonly ef?: number;
  readonly filters?: readonly unknown[];
  readonly columns?: readonly string[];
  readonly include_vectors?: boolean;
}

/** A scan: filters, projected columns, row limit. */
export interface ScanQuery {
  readonly filters?: readonly unknown[];
  readonly columns?: readonly string[];
  readonly limit?: number;
}

/** One PutResult's `app_metadata`, parsed: `{"status":"ok","rows":n,"lsn":k}` or `slow_down`. */
export type PutAck = Record<string, unknown>;

/** Counters of what the client did, for tests and diagnostics. */
export interface ClientStats {
  calls: number;
  redirects: number;
  retries: number;
  refreshes: number;
}

const HEADER_KEY = 'x-longbow-key';
const HEADER_ROUTING = 'x-longbow-routing';
/** `local`: a node answers ListFlights with its own datasets only (no server-side fan-out). */
const HEADER_SCOPE = 'x-longbow-scope';
const TRAILER_TARGET = 'x-longbow-forward-target';
const TRAILER_ADDR = 'x-longbow-forward-addr';

/**
 * The owner named by a FORWARD_REQUIRED answer (trailers first, then the message), or
 * undefined when `err` is not one.
 */
export function parseForwardRequired(err: ServiceErrorLike): { target: string; addr: string } | undefined {
  if (err?.code !== grpc.status.FAILED_PRECONDITION) return undefined;
  const t = err.metadata?.get(TRAILER_TARGET)[0];
  const a = err.metadata?.get(TRAILER_ADDR)[0];
  if (typeof t === 'string' && typeof a === 'string' && t && a) return { target: t, addr: a };
  const m = /FORWARD_REQUIRED: target=(\S+) addr=(\S+)/.exec(err.details ?? '');
  return m ? { target: m[1]!, addr: m[2]! } : undefined;
}

/** Whether a failed call is worth retrying elsewhere or later. */
function isRetryable(err: ServiceErrorLike): boolean {
  return err?.code === grpc.status.UNAVAILABLE;
}

function positive(name: string, v: number | undefined, dflt: number, allowZero = false): number {
  const n = v ?? dflt;
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new LongbowClientError(
      ClientErrorCode.invalidOption,
      `option ${name} must be ${allowZero ? 'non-negative' : 'positive'}, got ${v}`,
    );
  return n;
}

/** The smart client. Create, `connect()`, use, `close()`. */
export class LongbowClient {
  readonly seeds: readonly string[];
  readonly stats: ClientStats = { calls: 0, redirects: 0, retries: 0, refreshes: 0 };
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;
  private readonly maxRetries: number;
  private readonly retryBudgetMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly refreshTimeoutMs: number;
  private readonly random: () => number;
  private readonly clock: ClientClock;
  private readonly clients = new Map<string, FlightClient>();
  private viewValue: ClusterView | undefined;
  private refreshing: Promise<ClusterView> | undefined;

  constructor(opts: LongbowClientOptions) {
    if (!opts.seeds || opts.seeds.length === 0)
      throw new LongbowClientError(
        ClientErrorCode.invalidOption,
        'option seeds must list at least one host:port',
      );
    this.seeds = [...opts.seeds];
    this.timeoutMs = positive('timeoutMs', opts.timeoutMs, 30_000);
    this.maxRedirects = positive('maxRedirects', opts.maxRedirects, 3, true);
    this.maxRetries = positive('maxRetries', opts.maxRetries, 20, true);
    this.retryBudgetMs = positive('retryBudgetMs', opts.retryBudgetMs, 10_000, true);
    this.backoffBaseMs = positive('backoffBaseMs', opts.backoffBaseMs, 100);
    this.backoffMaxMs = positive('backoffMaxMs', opts.backoffMaxMs, 2000);
    this.refreshTimeoutMs = positive('refreshTimeoutMs', opts.refreshTimeoutMs, 2000);
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? realClock;
  }

  /** The current cluster view (undefined before `connect`). */
  get view(): ClusterView | undefined {
    return this.viewValue;
  }

  /** Learns the cluster from the seeds. Throws `NO_NODES` when none answers. */
  async connect(): Promise<ClusterView> {
    return this.refresh();
  }

  /**
   * Re-reads `cluster_status` from a known node (members of the current view first, then
   * the seeds). Concurrent callers share one refresh. Throws `NO_NODES` when none answers.
   */
  refresh(): Promise<ClusterView> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<ClusterView> {
    this.stats.refreshes++;
    const candidates = [...new Set([...(this.viewValue?.dataAddrs.values() ?? []), ...this.seeds])];
    let lastErr: unknown;
    for (const addr of candidates) {
      try {
        const status = await this.flight(addr).doActionJson<ClusterStatusAnswer>(
          'cluster_status',
          {},
          {
            timeoutMs: this.refreshTimeoutMs,
          },
        );
        this.viewValue = new ClusterView(status);
        return this.viewValue;
      } catch (err) {
        lastErr = err;
      }
    }
    throw new LongbowClientError(
      ClientErrorCode.noNodes,
      `no node answered cluster_status (tried ${candidates.join(', ')}): ${(lastErr as Error)?.message}`,
      { cause: lastErr },
    );
  }

  /**
   * Appends `batches` to `dataset` (DoPut) on its owner and resolves with each committed
   * batch's acknowledgement. The batches must be replayable (an array), since a redirect or
   * retry sends them again; rows are upserts by id, so a retried put is harmless.
   */
  put(dataset: string, schema: Schema, batches: readonly RecordBatch[]): Promise<PutAck[]> {
    return this.routed(dataset, async (flight, headers) => {
      const results: PutResult[] = await flight.doPut(pathDescriptor(dataset), schema, batches, {
        headers,
        timeoutMs: this.timeoutMs,
      });
      return results.map((r) =>
        JSON.parse(Buffer.from(r.appMetadata ?? new Uint8Array(0)).toString() || '{}'),
      );
    });
  }

  /** k-NN search on `dataset`'s owner; the result table as docs/protocol.md describes. */
  search(dataset: string, query: SearchQuery): Promise<Table> {
    const ticket = JSON.stringify({ search: { dataset, ...query } });
    return this.routed(dataset, (flight, headers) =>
      flight.doGetTable(ticket, { headers, timeoutMs: this.timeoutMs }),
    );
  }

  /** Scans `dataset` on its owner: live rows in commit order, filtered and projected. */
  scan(dataset: string, query: ScanQuery = {}): Promise<Table> {
    const ticket = JSON.stringify({ dataset, ...query });
    return this.routed(dataset, (flight, headers) =>
      flight.doGetTable(ticket, { headers, timeoutMs: this.timeoutMs }),
    );
  }

  /**
   * Runs an action and returns its JSON result. With `body.dataset` it goes to that
   * dataset's owner; otherwise to any node (node-level actions answer for that node).
   */
  action<T = unknown>(type: string, body: Record<string, unknown> = {}): Promise<T> {
    const key = typeof body.dataset === 'string' ? body.dataset : undefined;
    return this.routed(key, (flight, headers) =>
      flight.doActionJson<T>(type, body, { headers, timeoutMs: this.timeoutMs }),
    );
  }

  /**
   * Every dataset in the cluster: ListFlights with `x-longbow-scope: local` on each live
   * member of a freshly read view (each answers with its own datasets), merged, each dataset
   * kept from its ring owner (a copy on a node that no longer owns the name is unreachable
   * by routed calls and left out, as the server's own fan-out does), sorted by name. Throws
   * if a member does not answer within `timeoutMs` — a partial list would look like missing
   * data.
   */
  async listFlights(): Promise<FlightInfo[]> {
    const view = await this.refresh();
    const perNode = await Promise.all(
      [...view.dataAddrs.entries()].map(async ([id, addr]) => {
        const infos = await this.flight(addr)
          .listFlights(undefined, { timeoutMs: this.timeoutMs, headers: { [HEADER_SCOPE]: 'local' } })
          .catch((err: unknown) => {
            throw fromServiceError(err, 1);
          });
        return infos.filter((f) => view.owner(flightName(f)) === id);
      }),
    );
    return perNode.flat().sort(byFlightName);
  }

  /** Closes every channel. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private flight(addr: string): FlightClient {
    let c = this.clients.get(addr);
    if (!c) {
      c = new FlightClient(addr, {
        channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 },
      });
      this.clients.set(addr, c);
    }
    return c;
  }

  /** What is left of the retry budget of a request that first failed at `firstFailureMs`. */
  private retryLeftMs(firstFailureMs: number): number {
    return this.retryBudgetMs - (this.clock.nowMs() - firstFailureMs);
  }

  private pickAddr(key: string | undefined): string {
    const view = this.viewValue;
    const owner = key !== undefined ? view?.ownerAddr(key) : undefined;
    if (owner) return owner;
    const any = [...(view?.dataAddrs.values() ?? [])];
    return any[Math.floor(this.random() * any.length)] ?? this.seeds[0]!;
  }

  /**
   * Runs `op` against the owner of `key`: follows FORWARD_REQUIRED (bounded), retries
   * UNAVAILABLE with backoff (bounded in count and in time), refreshes the view on every
   * miss.
   */
  private async routed<T>(
    key: string | undefined,
    op: (flight: FlightClient, headers: Record<string, string>) => Promise<T>,
  ): Promise<T> {
    if (!this.viewValue) await this.refresh().catch(() => undefined);
    const headers: Record<string, string> = { [HEADER_ROUTING]: 'redirect' };
    if (key !== undefined) headers[HEADER_KEY] = key;
    let redirects = 0;
    let retries = 0;
    let attempts = 0;
    let firstFailureMs: number | undefined;
    let addr = this.pickAddr(key);
    for (;;) {
      attempts++;
      this.stats.calls++;
      try {
        return await op(this.flight(addr), headers);
      } catch (err) {
        const e = err as ServiceErrorLike;
        const fwd = parseForwardRequired(e);
        if (fwd) {
          if (++redirects > this.maxRedirects) {
            throw new LongbowClientError(
              ClientErrorCode.tooManyRedirects,
              `gave up after ${redirects - 1} redirects for "${key}" (last: ${e.details}); cluster views disagree`,
              { grpcCode: e.code, attempts, cause: err },
            );
          }
          this.stats.redirects++;
          void this.refresh().catch(() => undefined);
          addr = fwd.addr;
          continue;
        }
        if (isRetryable(e)) firstFailureMs ??= this.clock.nowMs();
        const leftMs = firstFailureMs === undefined ? 0 : this.retryLeftMs(firstFailureMs);
        if (isRetryable(e) && leftMs > 0 && retries < this.maxRetries) {
          retries++;
          this.stats.retries++;
          const delayMs = backoffDelayMs(retries - 1, this.backoffBaseMs, this.backoffMaxMs, this.random);
          await this.clock.sleep(Math.min(delayMs, leftMs));
          await this.refresh().catch(() => undefined);
          addr = this.pickAddr(key);
          continue;
        }
        throw fromServiceError(err, attempts);
      }
    }
  }
}
