/**
 * Helpers for the operator scenarios: the shared control plane, operator processes, and
 * polling with deadlines. A scenario file gets the control plane started by run.ts through
 * LONGBOW_E2E_* variables, or starts its own when run alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startControlPlane } from '../controlplane/controlplane.ts';

/** Repository root. */
export const ROOT = join(import.meta.dirname, '..', '..');

/** Connection details of the control plane under test. */
export interface Env {
  readonly kubeconfigPath: string;
  readonly server: string;
  readonly operatorToken: string;
  readonly binDir: string;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly objects: k8s.KubernetesObjectApi;
}

let shared: Promise<Env> | undefined;

/** The control plane for this test file (started here if run.ts did not provide one). */
export function controlPlane(): Promise<Env> {
  shared ??= (async () => {
    let kubeconfigPath = process.env.LONGBOW_E2E_KUBECONFIG;
    let server = process.env.LONGBOW_E2E_SERVER ?? '';
    let operatorToken = process.env.LONGBOW_E2E_OPERATOR_TOKEN ?? '';
    let binDir = process.env.LONGBOW_E2E_BIN ?? '';
    if (!kubeconfigPath) {
      // Stopped by the exit hook startControlPlane installs (this file's process ends with it).
      const cp = await startControlPlane();
      ({ kubeconfigPath, server, operatorToken, binDir } = cp);
      await installCrd(kubeconfigPath);
    }
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    return {
      kubeconfigPath,
      server,
      operatorToken,
      binDir,
      kc,
      core: kc.makeApiClient(k8s.CoreV1Api),
      apps: kc.makeApiClient(k8s.AppsV1Api),
      custom: kc.makeApiClient(k8s.CustomObjectsApi),
      objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    };
  })();
  return shared;
}

/**
 * Sends a raw JSON request to the API server (client-node's typed models drop fields they
 * do not know, such as `x-kubernetes-validations`, so manifests go out verbatim here).
 */
export async function rawRequest(
  kubeconfigPath: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: AnyObject }> {
  const { request } = await import('node:https');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const url = new URL(path, kc.getCurrentCluster()?.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        rejectUnauthorized: false,
        headers: {
          authorization: `Bearer ${kc.getCurrentUser()?.token ?? ''}`,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': contentType }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Installs the generated CRD (deploy/crds) verbatim and waits until it is established. */
export async function installCrd(kubeconfigPath: string): Promise<void> {
  const crd = parse(readFileSync(join(ROOT, 'deploy/crds/longbow.io_longbowclusters.yaml'), 'utf8'));
  const created = await rawRequest(
    kubeconfigPath,
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    crd,
  );
  if (created.status !== 201)
    throw new Error(`CRD not created: ${created.status} ${JSON.stringify(created.body)}`);
  await waitUntil('CRD established', async () => {
    const live = await rawRequest(
      kubeconfigPath,
      'GET',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
    );
    return live.body?.status?.conditions?.some(
      (c: AnyObject) => c.type === 'Established' && c.status === 'True',
    );
  });
}

/** Polls `check` every 100 ms until it returns a truthy value; fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
}

/** Creates a namespace and waits for its default service account (pods need it). */
export async function namespace(env: Env, name: string): Promise<string> {
  await env.core.createNamespace({ body: { metadata: { name } } });
  await waitUntil(`service account in ${name}`, () =>
    env.core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true),
  );
  return name;
}

/** A line the operator logged. */
export interface LogLine {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  readonly identity: string;
  readonly [key: string]: unknown;
}

/** An operator process under test. */
export interface OperatorProcess {
  readonly identity: string;
  readonly logs: LogLine[];
  readonly process: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Sends a signal to this process (by pid) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Waits for a log line matching `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** Starts `node operator/bin/longbow-operator.js` against the control plane. */
export function startOperator(
  env: Env,
  options: {
    identity: string;
    watchNamespace?: string;
    leaseNamespace?: string;
    extraEnv?: Record<string, string>;
  },
): OperatorProcess {
  const child = spawn(process.execPath, [join(ROOT, 'operator/bin/longbow-operator.js')], {
    env: {
      PATH: process.env.PATH,
      KUBECONFIG: env.kubeconfigPath,
      LONGBOW_OPERATOR_ID: options.identity,
      LONGBOW_OPERATOR_WATCH_NAMESPACE: options.watchNamespace ?? '',
      LONGBOW_OPERATOR_NAMESPACE: options.leaseNamespace ?? options.watchNamespace ?? 'default',
      LONGBOW_OPERATOR_LEASE_DURATION_SECONDS: '4',
      LONGBOW_OPERATOR_RETRY_PERIOD_SECONDS: '0.5',
      LONGBOW_OPERATOR_RESYNC_SECONDS: '3',
      ...options.extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (process.env.LONGBOW_E2E_VERBOSE) process.stderr.write(`[${options.identity}] ${line}\n`);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ time: '', level: 'raw', msg: line, identity: options.identity });
      }
      newline = buffer.indexOf('\n');
    }
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    if (process.env.LONGBOW_E2E_VERBOSE) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Never keep the test process alive, and never outlive it.
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();
  const reap = () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  };
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  return {
    identity: options.identity,
    logs,
    process: child,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, signal);
      return exited;
    },
    waitForLog(predicate, timeoutMs = 30_000) {
      return waitUntil(
        `operator ${options.identity} log line (stderr: ${stderr.slice(-500)})`,
        async () => logs.find(predicate),
        timeoutMs,
      );
    },
  };
}

/** Creates a LongbowCluster. */
export async function createCluster(
  env: Env,
  ns: string,
  name: string,
  spec: object,
): Promise<Record<string, unknown>> {
  return (await env.custom.createNamespacedCustomObject({
    group: 'longbow.io',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'longbowclusters',
    body: { apiVersion: 'longbow.io/v1alpha1', kind: 'LongbowCluster', metadata: { name }, spec },
  })) as Record<string, unknown>;
}

/** Merge-patches a LongbowCluster's spec. */
export async function patchCluster(env: Env, ns: string, name: string, spec: object): Promise<void> {
  await env.custom.patchNamespacedCustomObject(
    {
      group: 'longbow.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'longbowclusters',
      name,
      body: { spec },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

export type AnyObject = any;

/** Reads a LongbowCluster. */
export async function getCluster(env: Env, ns: string, name: string): Promise<AnyObject> {
  return env.custom.getNamespacedCustomObject({
    group: 'longbow.io',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'longbowclusters',
    name,
  });
}

/** Pods of a cluster, by name. */
export async function clusterPods(env: Env, ns: string, name: string): Promise<k8s.V1Pod[]> {
  const pods = await env.core.listNamespacedPod({
    namespace: ns,
    labelSelector: `app.kubernetes.io/instance=${name}`,
  });
  return pods.items.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** True when the pod's Ready condition is True and it is not terminating. */
export function podReady(pod: k8s.V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  );
}

/** Waits until the cluster's status reports `ready` ready nodes for the latest generation. */
export async function waitForClusterReady(
  env: Env,
  ns: string,
  name: string,
  replicas: number,
  timeoutMs = 90_000,
) {
  return waitUntil(
    `${ns}/${name} ready ${replicas}/${replicas}`,
    async () => {
      const c = await getCluster(env, ns, name);
      const s = c.status;
      return (
        s &&
        s.observedGeneration === c.metadata.generation &&
        s.ready === `${replicas}/${replicas}` &&
        s.phase === 'Running' &&
        c
      );
    },
    timeoutMs,
  );
}

/** Reads a URL path as a server-side Table (what `kubectl get` prints). */
export async function getTable(env: Env, path: string): Promise<{ columns: string[]; rows: string[][] }> {
  const { request } = await import('node:https');
  const token = env.kc.getCurrentUser()?.token ?? '';
  const url = new URL(path, env.kc.getCurrentCluster()?.server);
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(
      url,
      {
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end();
  });
  const table = JSON.parse(body) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
  return {
    columns: table.columnDefinitions.map((c) => c.name),
    rows: table.rows.map((r) => r.cells.map(String)),
  };
}

/** One observation of a pod, from the watch. */
export interface PodSample {
  readonly name: string;
  readonly uid: string;
  readonly image: string;
  readonly ready: boolean;
  readonly terminating: boolean;
}

/**
 * Watches a cluster's pods and checks, after every event, how many of ordinals
 * 0..replicas-1 are unavailable (no pod, not ready, or terminating). Records the order in
 * which pods started terminating.
 */
export async function watchPods(env: Env, ns: string, cluster: string, replicas: number) {
  const pods = new Map<string, PodSample>();
  const terminations: string[] = [];
  const uidsByName = new Map<string, Set<string>>();
  let maxUnavailable = 0;
  const watch = new k8s.Watch(env.kc);
  const request = await watch.watch(
    `/api/v1/namespaces/${ns}/pods`,
    { labelSelector: `app.kubernetes.io/instance=${cluster}` },
    (type: string, pod: k8s.V1Pod) => {
      const name = pod.metadata?.name ?? '';
      const sample: PodSample = {
        name,
        uid: pod.metadata?.uid ?? '',
        image: pod.spec?.containers[0]?.image ?? '',
        ready: podReady(pod),
        terminating: Boolean(pod.metadata?.deletionTimestamp),
      };
      const previous = pods.get(name);
      if (sample.terminating && !(previous?.terminating && previous.uid === sample.uid))
        terminations.push(name);
      if (type === 'DELETED') {
        if (pods.get(name)?.uid === sample.uid) pods.delete(name);
      } else {
        pods.set(name, sample);
        if (!uidsByName.has(name)) uidsByName.set(name, new Set());
        uidsByName.get(name)?.add(sample.uid);
      }
      let unavailable = 0;
      for (let i = 0; i < replicas; i++) {
        const p = pods.get(`${cluster}-${i}`);
        if (!p?.ready || p.terminating) unavailable++;
      }
      maxUnavailable = Math.max(maxUnavailable, unavailable);
    },
    () => undefined,
  );
  // The initial ADDED events describe the starting state; measure from there.
  await new Promise((r) => setTimeout(r, 500));
  maxUnavailable = 0;
  return {
    pods,
    terminations,
    uidsByName,
    get maxUnavailable() {
      return maxUnavailable;
    },
    stop: () => request.abort(),
  };
}
