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
  #onError: (error: unknown) => void = () => undefined;

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

  /**
   * Starts campaigning; `onStarted` runs when leadership is won, `onLost` if it is lost,
   * `onError` for every failed attempt to read or write the lease.
   */
  start(
    onStarted: () => void,
    onLost: () => void,
    onError: (error: unknown) => void = () => undefined,
  ): void {
    this.#onStarted = onStarted;
    this.#onLost = onLost;
    this.#onError = onError;
    void this.#tick();
  }

  /** Stops campaigning and, if leading, releases the lease so a successor need not wait. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity !== this.#identity) return;
      await this.#write('replace', {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, renewTime: null, acquireTime: null },
      });
    } catch {
      // Best effort: the lease expires on its own.
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#attempt();
    } catch (error) {
      this.#onError(error); // and treated like a failed renewal below
    }
    if (this.#leading && Date.now() - this.#lastRenewMs > this.#timing.leaseDurationMs) {
      this.#leading = false;
      this.#onLost();
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#timing.retryPeriodMs);
  }

  // Leases go through the untyped custom-objects client: the typed Lease model writes
  // millisecond timestamps, and the API server insists on MicroTime's six digits.
  async #read(): Promise<LeaseObject | undefined> {
    try {
      return (await this.#kube.custom.getNamespacedCustomObject({
        ...LEASE_RESOURCE,
        namespace: this.#namespace,
        name: this.#name,
      })) as LeaseObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #write(verb: 'create' | 'replace', body: LeaseObject): Promise<void> {
    if (verb === 'create') {
      await this.#kube.custom.createNamespacedCustomObject({
        ...LEASE_RESOURCE,
        namespace: this.#namespace,
        body,
      });
    } else {
      await this.#kube.custom.replaceNamespacedCustomObject({
        ...LEASE_RESOURCE,
        namespace: this.#namespace,
        name: this.#name,
        body,
      });
    }
  }

  async #attempt(): Promise<void> {
    const now = new Date();
    const lease = await this.#read();
    const view: LeaseView | undefined = lease && {
      holderIdentity: lease.spec?.holderIdentity ?? undefined,
      renewTimeMs: lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : undefined,
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
    const nowMicro = microTime(now);
    const spec = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.ceil(this.#timing.leaseDurationMs / 1000),
      renewTime: nowMicro,
      acquireTime: decision === 'renew' ? (lease?.spec?.acquireTime ?? nowMicro) : nowMicro,
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (decision === 'acquire' ? 1 : 0),
    };
    try {
      const metadata = { ...lease?.metadata, name: this.#name, namespace: this.#namespace };
      await this.#write(decision === 'create' ? 'create' : 'replace', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata,
        spec,
      });
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

const LEASE_RESOURCE = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' } as const;

/** A Lease as JSON. */
interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    renewTime?: string | null;
    acquireTime?: string | null;
    leaseTransitions?: number;
  };
}

/** RFC 3339 with microseconds, as metav1.MicroTime requires. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
