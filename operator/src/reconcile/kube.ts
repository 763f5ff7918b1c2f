/**
 * The operator's only door to the API server: a thin adapter over @kubernetes/client-node
 * with the few verbs reconcile needs (read, list, server-side apply, merge-patch, delete,
 * events). Everything above it deals in plain objects.
 */
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/types.ts';

/** Field manager for server-side apply: the owner of every field the operator sets. */
export const FIELD_MANAGER = 'longbow-operator';

/** A Kubernetes object as JSON. */
export type KubeObject = k8s.KubernetesObject & Record<string, unknown>;

/** True for a 404 from the API server. */
export function isNotFound(error: unknown): boolean {
  return error instanceof k8s.ApiException && error.code === 404;
}

/** True for a 409 (conflict or already exists) from the API server. */
export function isConflict(error: unknown): boolean {
  return error instanceof k8s.ApiException && error.code === 409;
}

/** Best-effort one-line message of an API error (the server's own message when present). */
export function errorMessage(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message = (body as { message?: string } | undefined)?.message;
    return `HTTP ${error.code}: ${message ?? String(error.body).slice(0, 300)}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** The verbs the reconciler uses. */
export class Kube {
  readonly config: k8s.KubeConfig;
  readonly objects: k8s.KubernetesObjectApi;
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly coordination: k8s.CoordinationV1Api;
  readonly apiextensions: k8s.ApiextensionsV1Api;

  /** Builds every API client from one KubeConfig. */
  constructor(config: k8s.KubeConfig) {
    this.config = config;
    this.objects = k8s.KubernetesObjectApi.makeApiClient(config);
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.coordination = config.makeApiClient(k8s.CoordinationV1Api);
    this.apiextensions = config.makeApiClient(k8s.ApiextensionsV1Api);
  }

  /** Reads an object, or undefined when it does not exist. */
  async read(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return (await this.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as KubeObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Lists objects of a kind in a namespace, optionally by label selector. */
  async list(
    apiVersion: string,
    kind: string,
    namespace: string,
    labelSelector?: string,
  ): Promise<KubeObject[]> {
    const list = await this.objects.list(
      apiVersion,
      kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
    );
    return list.items as KubeObject[];
  }

  /** Server-side apply with the operator's field manager (forcing ownership of its fields). */
  async apply(object: object): Promise<KubeObject> {
    return (await this.objects.patch(
      object as k8s.KubernetesObject,
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      k8s.PatchStrategy.ServerSideApply,
    )) as KubeObject;
  }

  /** JSON merge patch of an object (used to grow claims the operator does not own). */
  async mergePatch(object: object): Promise<KubeObject> {
    return (await this.objects.patch(
      object as k8s.KubernetesObject,
      undefined,
      undefined,
      FIELD_MANAGER,
      undefined,
      k8s.PatchStrategy.MergePatch,
    )) as KubeObject;
  }

  /** Deletes an object; `propagationPolicy` is Foreground, Background or Orphan. Ignores 404. */
  async delete(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    propagationPolicy = 'Background',
  ): Promise<void> {
    try {
      await this.objects.delete(
        { apiVersion, kind, metadata: { name, namespace } },
        undefined,
        undefined,
        undefined,
        undefined,
        propagationPolicy,
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Reads a LongbowCluster, or undefined when it is gone. */
  async readCluster(namespace: string, name: string): Promise<KubeObject | undefined> {
    return this.read(API_VERSION, KIND, namespace, name);
  }

  /** Replaces a LongbowCluster's status (merge patch on the status subresource). */
  async patchClusterStatus(namespace: string, name: string, status: object): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { status } },
      mergePatch,
    );
  }

  /** True when a CRD with this name is installed. */
  async crdExists(name: string): Promise<boolean> {
    try {
      await this.apiextensions.readCustomResourceDefinition({ name });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Records a core/v1 Event on an object (best effort: failures are returned, not thrown). */
  async event(
    involved: { apiVersion: string; kind: string; name: string; namespace: string; uid?: string },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    reportingInstance: string,
  ): Promise<Error | undefined> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: involved.namespace,
        body: {
          metadata: { generateName: `${involved.name}.`, namespace: involved.namespace },
          involvedObject: { ...involved },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: FIELD_MANAGER },
          reportingComponent: `longbow.io/${FIELD_MANAGER}`,
          reportingInstance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      return undefined;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}
