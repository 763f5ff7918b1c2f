/**
 * The operator process: configuration from the environment, leader election, the
 * controller, and graceful shutdown. Only the leader runs the controller; on SIGTERM the
 * controller finishes its pass in flight, the lease is released so a standby takes over at
 * once, and the process exits 0. Losing the lease exits with status 1 (a supervisor
 * restarts the process as a fresh candidate), which is the simplest way to guarantee that
 * a deposed leader stops writing.
 *
 * Environment:
 * | variable | default | meaning |
 * |---|---|---|
 * | KUBECONFIG | in-cluster config | how to reach the API server |
 * | LONGBOW_OPERATOR_NAMESPACE | `POD_NAMESPACE`, else `default` | where the Lease lives |
 * | LONGBOW_OPERATOR_WATCH_NAMESPACE | empty (all) | watch one namespace only |
 * | LONGBOW_OPERATOR_ID | hostname-pid | identity in the Lease, Events and logs |
 * | LONGBOW_OPERATOR_LEASE_NAME | `longbow-operator` | Lease name |
 * | LONGBOW_OPERATOR_LEASE_DURATION_SECONDS | 15 | lease validity without renewal |
 * | LONGBOW_OPERATOR_RETRY_PERIOD_SECONDS | 2 | renew / retry period |
 * | LONGBOW_OPERATOR_RESYNC_SECONDS | 60 | full re-queue period |
 */
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { Controller } from './reconcile/controller.ts';
import { errorMessage, Kube } from './reconcile/kube.ts';
import { LeaderElector } from './reconcile/leader.ts';
import { type Logger, Reconciler } from './reconcile/reconciler.ts';

/** Operator settings resolved from the environment. */
export interface OperatorConfig {
  readonly leaseNamespace: string;
  readonly watchNamespace: string;
  readonly identity: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly retryPeriodMs: number;
  readonly resyncMs: number;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback * 1000;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number of seconds, got ${raw}`);
  return value * 1000;
}

/** Reads the operator's settings; throws an error naming the variable when one is invalid. */
export function configFromEnv(env: NodeJS.ProcessEnv): OperatorConfig {
  const config = {
    leaseNamespace: env.LONGBOW_OPERATOR_NAMESPACE || env.POD_NAMESPACE || 'default',
    watchNamespace: env.LONGBOW_OPERATOR_WATCH_NAMESPACE ?? '',
    identity: env.LONGBOW_OPERATOR_ID || `${hostname()}-${process.pid}`,
    leaseName: env.LONGBOW_OPERATOR_LEASE_NAME || 'longbow-operator',
    leaseDurationMs: seconds(env, 'LONGBOW_OPERATOR_LEASE_DURATION_SECONDS', 15),
    retryPeriodMs: seconds(env, 'LONGBOW_OPERATOR_RETRY_PERIOD_SECONDS', 2),
    resyncMs: seconds(env, 'LONGBOW_OPERATOR_RESYNC_SECONDS', 60),
  };
  if (config.retryPeriodMs >= config.leaseDurationMs) {
    throw new Error('LONGBOW_OPERATOR_RETRY_PERIOD_SECONDS must be shorter than the lease duration');
  }
  return config;
}

/** Runs the operator until SIGTERM/SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = configFromEnv(env);
  const log: Logger = (level, msg, fields = {}) =>
    process.stdout.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, msg, identity: config.identity, ...fields })}\n`,
    );
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  const kube = new Kube(kubeConfig);
  const reconciler = new Reconciler(kube, log, config.identity);
  const controller = new Controller(kube, reconciler, log, {
    watchNamespace: config.watchNamespace,
    resyncMs: config.resyncMs,
  });
  const elector = new LeaderElector(kube, config.leaseNamespace, config.leaseName, config.identity, {
    leaseDurationMs: config.leaseDurationMs,
    retryPeriodMs: config.retryPeriodMs,
  });
  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log('info', 'shutting down', { signal });
    await controller.stop();
    await elector.stop();
    log('info', 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  log('info', 'starting', { leaseNamespace: config.leaseNamespace, lease: config.leaseName });
  elector.start(
    () => {
      log('info', 'became leader');
      controller.start().catch((error) => {
        log('error', 'controller failed to start', { error: String(error) });
        process.exit(1);
      });
    },
    () => {
      log('error', 'lost leadership; exiting');
      process.exit(1);
    },
    (error) => log('warn', 'leader election attempt failed', { error: errorMessage(error) }),
  );
}
