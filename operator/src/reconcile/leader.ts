/**
 * Leader election with a coordination.k8s.io/v1 Lease, so two operator replicas never
 * reconcile at once. The decision is pure (`decideLease`); `LeaderElector` does the I/O
 * with optimistic concurrency (every write carries the resourceVersion it read, so two
 * candidates racing for an expired lease cannot both win: one gets 409 Conflict).
 *
 * Safety: a leader that cannot renew within `leaseDurationMs` of its last successful renewal
 * stops leading (`onLost`) before any other candidate may take the lease, because others
 * wait for `renewTime + leaseDuration` by their own clocks. The usual assumption applies:
 * clocks advance at roughly the same rate.
 */
import type * as k8s from '@kubernetes/client-node';
import { isConflict, isNotFound, type Kube } from './kube.ts';

/** The Lease fields the decision needs. */
export interface LeaseView {
  readonly holderIdentity?: string | undefined;
  readonly renewTimeMs?: number | undefined;
  readonly leaseDurationSeconds?: number | undefined;
}

/** What to do with the lease. */
export type LeaseDecision = 'create' | 'renew' | 'acquire' | 'wait';

/** Decides from the lease as read now. Pure. */
export function decideLease(lease: LeaseView | undefined, identity: string, nowMs: number): LeaseDecision {
  if (!lease) return 'create';
  if (lease.holderIdentity === identity) return 'renew';
  if (!lease.holderIdentity) return 'acquire';
  const expiresMs = (lease.renewTimeMs ?? 0) + (lease.leaseDurationSeconds ?? 0) * 1000;
  return nowMs >= expiresMs ? 'acquire' : 'wait';
}

/** Timing of the election, in milliseconds. */
export interface LeaderTiming {
  readonly leaseDurationMs: number;
  readonly retryPeriodMs: number;
}

/** Runs the election loop for one candidate. */
export class LeaderElector {
  readonly #kube: Kube;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #timing: LeaderTiming;
  #leading = false;
  #lastRenewMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #onStarted: () => void = () => undefined;
  #onLost: () => void = () => undefined;

  /** A candidate `identity` for Lease `namespace/name`. */
  constructor(kube: Kube, namespace: string, name: string, identity: string, timing: LeaderTiming) {
    this.#kube = kube;
    this.#namespace = namespace;
    this.#name = name;
    this.#identity = identity;
    this.#timing = timing;
  }

  /** True while this candidate holds the lease. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Starts campaigning; `onStarted` runs when leadership is won, `onLost` if it is lost. */
  start(onStarted: () => void, onLost: () => void): void {
    this.#onStarted = onStarted;
    this.#onLost = onLost;
    void this.#tick();
  }

  /** Stops campaigning and, if leading, releases the lease so a successor need not wait. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#kube.coordination.readNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
      });
      if (lease.spec?.holderIdentity !== this.#identity) return;
      lease.spec.holderIdentity = undefined;
      lease.spec.renewTime = undefined;
      lease.spec.acquireTime = undefined;
      await this.#kube.coordination.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
        body: lease,
      });
    } catch {
      // Best effort: the lease expires on its own.
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#attempt();
    } catch {
      // Treated like a failed renewal below.
    }
    if (this.#leading && Date.now() - this.#lastRenewMs > this.#timing.leaseDurationMs) {
      this.#leading = false;
      this.#onLost();
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#timing.retryPeriodMs);
  }

  async #attempt(): Promise<void> {
    const now = new Date();
    let lease: k8s.V1Lease | undefined;
    try {
      lease = await this.#kube.coordination.readNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const view: LeaseView | undefined = lease && {
      holderIdentity: lease.spec?.holderIdentity,
      renewTimeMs: lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : undefined,
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
    };
    const decision = decideLease(view, this.#identity, now.getTime());
    if (decision === 'wait') {
      if (this.#leading) {
        this.#leading = false;
        this.#onLost();
      }
      return;
    }
    const spec: k8s.V1LeaseSpec = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.ceil(this.#timing.leaseDurationMs / 1000),
      renewTime: now,
      acquireTime: decision === 'renew' ? (lease?.spec?.acquireTime ?? now) : now,
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (decision === 'acquire' ? 1 : 0),
    };
    try {
      if (decision === 'create') {
        await this.#kube.coordination.createNamespacedLease({
          namespace: this.#namespace,
          body: { metadata: { name: this.#name, namespace: this.#namespace }, spec },
        });
      } else {
        await this.#kube.coordination.replaceNamespacedLease({
          name: this.#name,
          namespace: this.#namespace,
          body: { metadata: { ...lease?.metadata, name: this.#name, namespace: this.#namespace }, spec },
        });
      }
    } catch (error) {
      if (isConflict(error)) return; // someone else wrote first; read again next tick
      throw error;
    }
    this.#lastRenewMs = now.getTime();
    if (!this.#leading) {
      this.#leading = true;
      this.#onStarted();
    }
  }
}
