/**
 * Volume growth, decided purely. StatefulSet volume claim templates are immutable, so to
 * grow storage the operator (1) raises the request of every existing claim (the storage
 * class must allow expansion), (2) deletes the StatefulSet with `propagationPolicy: Orphan`
 * so its pods keep running, and (3) creates it again with the larger templates; the new
 * StatefulSet adopts the orphaned pods through its selector. Each step is idempotent, so a
 * restart between steps finishes the job.
 */
import { compareQuantity } from '../api/quantity.ts';

/** A claim template or claim, reduced to what matters here. */
export interface ClaimView {
  readonly name: string;
  readonly size: string;
}

/** Inputs: templates of the live and desired StatefulSets and the claims that exist. */
export interface ExpansionInput {
  readonly setName: string;
  readonly liveTemplates: readonly ClaimView[];
  readonly desiredTemplates: readonly ClaimView[];
  /** Existing claims (name `<template>-<set>-<ordinal>`, requested size). */
  readonly claims: readonly ClaimView[];
}

/** The decision: which claims to resize, and whether the StatefulSet must be recreated. */
export interface ExpansionPlan {
  readonly resize: readonly ClaimView[];
  readonly recreateStatefulSet: boolean;
}

/** Plans a storage expansion. Pure. */
export function planExpansion(input: ExpansionInput): ExpansionPlan {
  const live = new Map(input.liveTemplates.map((t) => [t.name, t.size]));
  const grown = input.desiredTemplates.filter((t) => {
    const current = live.get(t.name);
    return current !== undefined && compareQuantity(t.size, current) > 0;
  });
  const resize: ClaimView[] = [];
  for (const template of input.desiredTemplates) {
    const prefix = `${template.name}-${input.setName}-`;
    for (const claim of input.claims) {
      if (!claim.name.startsWith(prefix) || !/^[0-9]+$/.test(claim.name.slice(prefix.length))) continue;
      if (compareQuantity(template.size, claim.size) > 0)
        resize.push({ name: claim.name, size: template.size });
    }
  }
  return { resize, recreateStatefulSet: grown.length > 0 };
}
