/**
 * Status, computed purely from what the operator observed: the StatefulSet, the pods and
 * the outcome of the last reconcile. Conditions follow the Kubernetes API conventions
 * (metav1.Condition): `lastTransitionTime` changes only when `status` changes, and every
 * condition records the `observedGeneration` it was computed for.
 *
 * Phases (a one-word summary for `kubectl get`):
 *
 *   Pending ──pods ready──▶ Running ◀──rollout done── Progressing
 *      │                      │   └──spec change/scale──▶ ┘
 *      └──────▶ Degraded ◀────┘  (not Available and something needs a human)
 */
import {
  type Condition,
  ConditionType,
  type LongbowClusterSpec,
  type LongbowClusterStatus,
  type MemberStatus,
  Phase,
} from '../api/types.ts';

/** A pod as the status computation sees it. */
export interface PodObservation {
  readonly name: string;
  readonly ordinal: number;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly revision: string | undefined;
  readonly podIP?: string;
  readonly nodeName?: string;
  /** `PodScheduled=False` with reason `Unschedulable`. */
  readonly unschedulable: boolean;
  /** A container waiting in CrashLoopBackOff, ImagePullBackOff or ErrImagePull. */
  readonly failing: boolean;
}

/** Everything status depends on. */
export interface StatusInput {
  readonly generation: number;
  readonly spec: LongbowClusterSpec;
  readonly updateRevision: string | undefined;
  /** True when the StatefulSet controller has seen the latest StatefulSet spec. */
  readonly statefulSetObserved: boolean;
  readonly pods: readonly PodObservation[];
  /** Work still under way that pods do not show (e.g. a volume expansion). */
  readonly pendingWork?: { readonly reason: string; readonly message: string };
  /** The error of the last reconcile, if it failed. */
  readonly reconcileError?: string;
  readonly previous: readonly Condition[];
  readonly nowIso: string;
}

function condition(
  input: StatusInput,
  type: Condition['type'],
  status: boolean,
  reason: string,
  message: string,
): Condition {
  const value = status ? 'True' : 'False';
  const previous = input.previous.find((c) => c.type === type);
  return {
    type,
    status: value,
    observedGeneration: input.generation,
    lastTransitionTime: previous && previous.status === value ? previous.lastTransitionTime : input.nowIso,
    reason,
    message,
  };
}

/** Computes the full status. Pure. */
export function computeStatus(input: StatusInput): LongbowClusterStatus {
  const desired = input.spec.replicas;
  const inRange = input.pods.filter((p) => p.ordinal >= 0 && p.ordinal < desired);
  const ready = inRange.filter((p) => p.ready && !p.terminating).length;
  const updated = inRange.filter(
    (p) => input.updateRevision !== undefined && p.revision === input.updateRevision && !p.terminating,
  ).length;
  const extra = input.pods.filter((p) => p.ordinal >= desired).length;
  const minAvailable = Math.max(1, desired - input.spec.updateStrategy.maxUnavailable);
  const available = ready >= minAvailable;

  const availableCondition = condition(
    input,
    ConditionType.Available,
    available,
    available ? 'MinimumNodesReady' : 'NotEnoughNodesReady',
    `${ready} of ${desired} nodes ready (at least ${minAvailable} needed)`,
  );

  let progressReason = 'Complete';
  let progressMessage = `all ${desired} nodes ready and up to date`;
  if (input.pendingWork) {
    progressReason = input.pendingWork.reason;
    progressMessage = input.pendingWork.message;
  } else if (!input.statefulSetObserved) {
    progressReason = 'StatefulSetUpdating';
    progressMessage = 'waiting for the StatefulSet controller to observe the new spec';
  } else if (extra > 0 || inRange.length < desired) {
    progressReason = 'Scaling';
    progressMessage = `${inRange.length} of ${desired} nodes exist, ${extra} above the desired count`;
  } else if (updated < desired) {
    progressReason = 'RollingUpdate';
    progressMessage = `${updated} of ${desired} nodes updated`;
  } else if (ready < desired) {
    progressReason = 'NodesStarting';
    progressMessage = `${ready} of ${desired} nodes ready`;
  }
  const progressing = progressReason !== 'Complete';
  const progressingCondition = condition(
    input,
    ConditionType.Progressing,
    progressing,
    progressReason,
    progressMessage,
  );

  const unschedulable = input.pods.filter((p) => p.unschedulable).map((p) => p.name);
  const failing = input.pods.filter((p) => p.failing).map((p) => p.name);
  let degradedReason = 'AsExpected';
  let degradedMessage = 'no problems observed';
  if (input.reconcileError !== undefined) {
    degradedReason = 'ReconcileFailed';
    degradedMessage = input.reconcileError;
  } else if (failing.length > 0) {
    degradedReason = 'NodesFailing';
    degradedMessage = `nodes failing to start: ${failing.join(', ')}`;
  } else if (unschedulable.length > 0) {
    degradedReason = 'NodesUnschedulable';
    degradedMessage = `nodes that cannot be scheduled: ${unschedulable.join(', ')}`;
  }
  const degraded = degradedReason !== 'AsExpected';
  const degradedCondition = condition(
    input,
    ConditionType.Degraded,
    degraded,
    degradedReason,
    degradedMessage,
  );

  let phase: Phase = Phase.Running;
  if (degraded && !available) phase = Phase.Degraded;
  else if (ready === 0) phase = Phase.Pending;
  else if (progressing) phase = Phase.Progressing;
  else if (degraded) phase = Phase.Degraded;

  const members: MemberStatus[] = [...input.pods]
    .sort((a, b) => a.ordinal - b.ordinal)
    .map((p) => ({
      name: p.name,
      ordinal: p.ordinal,
      ready: p.ready && !p.terminating,
      updated: input.updateRevision !== undefined && p.revision === input.updateRevision,
      ...(p.podIP ? { podIP: p.podIP } : {}),
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
    }));

  return {
    observedGeneration: input.generation,
    replicas: desired,
    readyReplicas: ready,
    updatedReplicas: updated,
    ready: `${ready}/${desired}`,
    phase,
    conditions: [availableCondition, progressingCondition, degradedCondition],
    members,
  };
}
