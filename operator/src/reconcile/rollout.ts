/**
 * Rolling restarts, decided purely. The StatefulSet uses `OnDelete`, so the StatefulSet
 * controller recreates a deleted pod from the *current* template and never deletes pods by
 * itself; the operator decides which outdated pods to delete.
 *
 * Invariants:
 * - Never more than `maxUnavailable` of the desired ordinals are unavailable (missing, not
 *   ready, or terminating) because of a deletion we made.
 * - Highest ordinal first, like the StatefulSet controller's own rolling update.
 * - An outdated pod that is already unavailable (crash-looping on a bad old revision) is
 *   replaced without spending budget: deleting it cannot make things worse.
 * - The decision depends only on what is observable now, so an operator restarted mid-rollout
 *   simply carries on.
 */

/** What the planner needs to know about one pod. */
export interface PodView {
  readonly name: string;
  readonly ordinal: number;
  readonly ready: boolean;
  readonly terminating: boolean;
  /** The pod's `controller-revision-hash` label. */
  readonly revision: string | undefined;
}

/** Inputs of one rollout decision. */
export interface RolloutInput {
  readonly pods: readonly PodView[];
  readonly replicas: number;
  /** The StatefulSet's `status.updateRevision`. */
  readonly updateRevision: string | undefined;
  readonly maxUnavailable: number;
}

/** The decision: which pods to delete now, and whether pods remain outdated. */
export interface RolloutPlan {
  readonly deletePods: readonly string[];
  readonly outdated: number;
  readonly unavailable: number;
}

/** Chooses the pods to delete now. Pure. */
export function planRollout(input: RolloutInput): RolloutPlan {
  const byOrdinal = new Map(input.pods.map((p) => [p.ordinal, p]));
  let unavailable = 0;
  for (let ordinal = 0; ordinal < input.replicas; ordinal++) {
    const pod = byOrdinal.get(ordinal);
    if (!pod?.ready || pod.terminating) unavailable++;
  }
  if (input.updateRevision === undefined) return { deletePods: [], outdated: 0, unavailable };
  const outdated = input.pods
    .filter((p) => p.ordinal < input.replicas && !p.terminating && p.revision !== input.updateRevision)
    .sort((a, b) => b.ordinal - a.ordinal);
  const deletePods: string[] = outdated.filter((p) => !p.ready).map((p) => p.name);
  let budget = input.maxUnavailable - unavailable;
  for (const pod of outdated) {
    if (budget <= 0) break;
    if (!pod.ready) continue;
    deletePods.push(pod.name);
    budget--;
  }
  return { deletePods, outdated: outdated.length, unavailable };
}

/** The ordinal of a StatefulSet pod (`<set>-<ordinal>`), or -1 when the name has none. */
export function podOrdinal(setName: string, podName: string): number {
  if (!podName.startsWith(`${setName}-`)) return -1;
  const suffix = podName.slice(setName.length + 1);
  return /^[0-9]+$/.test(suffix) ? Number(suffix) : -1;
}
