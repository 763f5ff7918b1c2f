/**
 * The controller: informers on LongbowClusters and on the objects they own feed cluster
 * keys into the work queue; one worker reconciles them. Any change to an owned StatefulSet
 * or pod (matched by the `app.kubernetes.io/instance` label) wakes its cluster, and a
 * periodic resync re-queues every cluster, so a missed event costs latency, never
 * correctness.
 */
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/types.ts';
import { LABEL, MANAGED_BY } from '../builders/names.ts';
import { errorMessage, type Kube } from './kube.ts';
import { WorkQueue } from './queue.ts';
import type { Logger, Reconciler } from './reconciler.ts';

/** Controller settings. */
export interface ControllerOptions {
  /** Namespace to watch; empty means all namespaces. */
  readonly watchNamespace: string;
  /** Milliseconds between full re-queues of every known cluster. */
  readonly resyncMs: number;
}

type Informer = k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;

/** Wires informers, queue and reconciler together. */
export class Controller {
  readonly #kube: Kube;
  readonly #reconciler: Reconciler;
  readonly #log: Logger;
  readonly #options: ControllerOptions;
  readonly #queue: WorkQueue;
  readonly #informers: Informer[] = [];
  #resync: NodeJS.Timeout | undefined;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();

  /** Builds the controller; nothing runs before `start()`. */
  constructor(kube: Kube, reconciler: Reconciler, log: Logger, options: ControllerOptions) {
    this.#kube = kube;
    this.#reconciler = reconciler;
    this.#log = log;
    this.#options = options;
    this.#queue = new WorkQueue(
      async (key) => {
        const [namespace = '', name = ''] = key.split('/');
        const result = await this.#reconciler.reconcile(namespace, name);
        return result.requeueAfterMs;
      },
      (key, error, retryInMs) =>
        this.#log('error', 'reconcile failed', { cluster: key, error: errorMessage(error), retryInMs }),
    );
  }

  /** Starts informers, the worker and the resync timer. */
  async start(): Promise<void> {
    const ns = this.#options.watchNamespace;
    const nsPath = ns ? `/namespaces/${ns}` : '';
    const owned = `${LABEL.managedBy}=${MANAGED_BY}`;
    const clusterKey = (o: k8s.KubernetesObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
    const ownerKey = (o: k8s.KubernetesObject) => {
      const instance = o.metadata?.labels?.[LABEL.instance];
      return instance ? `${o.metadata?.namespace}/${instance}` : undefined;
    };
    this.#informers.push(
      this.#informer(
        `/apis/${GROUP}/${VERSION}${nsPath}/${PLURAL}`,
        API_VERSION,
        KIND,
        undefined,
        clusterKey,
      ),
      this.#informer(`/apis/apps/v1${nsPath}/statefulsets`, 'apps/v1', 'StatefulSet', owned, ownerKey),
      this.#informer(`/api/v1${nsPath}/pods`, 'v1', 'Pod', owned, ownerKey),
    );
    this.#done = this.#queue.run();
    await Promise.all(this.#informers.map((i) => i.start()));
    this.#resync = setInterval(() => {
      for (const cluster of this.#informers[0]?.list() ?? []) this.#queue.add(clusterKey(cluster));
    }, this.#options.resyncMs);
    this.#log('info', 'controller started', { watchNamespace: ns || '(all)' });
  }

  /** Stops watching and waits for the reconcile in flight to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resync);
    await Promise.all(this.#informers.map((i) => i.stop().catch(() => undefined)));
    await this.#queue.stop();
    await this.#done;
  }

  #informer(
    path: string,
    apiVersion: string,
    kind: string,
    labelSelector: string | undefined,
    keyOf: (o: k8s.KubernetesObject) => string | undefined,
  ): Informer {
    const namespace = this.#options.watchNamespace;
    const list = async () => {
      const result = await this.#kube.objects.list(
        apiVersion,
        kind,
        namespace || undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      );
      return result as k8s.KubernetesListObject<k8s.KubernetesObject>;
    };
    const informer = k8s.makeInformer(this.#kube.config, path, list, labelSelector) as Informer;
    const enqueue = (o: k8s.KubernetesObject) => {
      const key = keyOf(o);
      if (key) this.#queue.add(key);
    };
    informer.on('add', enqueue);
    informer.on('update', enqueue);
    informer.on('delete', enqueue);
    informer.on('error', (error: unknown) => {
      if (this.#stopped) return;
      this.#log('warn', 'watch failed; restarting', { kind, error: errorMessage(error) });
      setTimeout(() => {
        if (!this.#stopped) informer.start().catch(() => undefined);
      }, 1000);
    });
    return informer;
  }
}
