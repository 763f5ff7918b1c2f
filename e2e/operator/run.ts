/**
 * Runs every operator scenario against one real control plane: builds or reuses the
 * Kubernetes binaries, starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler
 * and kwok on loopback, installs the CRD, runs `node --test` on e2e/operator/*.test.ts
 * (one file at a time: each starts its own operators), then stops everything by pid.
 * Exit status is the test runner's.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from '../controlplane/controlplane.ts';
import { installCrd } from './harness.ts';

const started = Date.now();
const cp = await startControlPlane();
console.log(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s (logs: ${cp.dir})`);
let code = 1;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cp.stop().then(() => process.exit(130));
  });
}
try {
  await installCrd(cp.kubeconfigPath);
  const only = process.argv.slice(2);
  const files = (
    only.length > 0 ? only : readdirSync(import.meta.dirname).filter((f) => f.endsWith('.test.ts'))
  )
    .map((f) => (f.includes('/') ? f : join(import.meta.dirname, f)))
    .sort();
  const child = spawn(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-timeout=300000', ...files],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        LONGBOW_E2E_KUBECONFIG: cp.kubeconfigPath,
        LONGBOW_E2E_SERVER: cp.server,
        LONGBOW_E2E_OPERATOR_TOKEN: cp.operatorToken,
        LONGBOW_E2E_BIN: cp.binDir,
      },
    },
  );
  code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
} finally {
  await cp.stop();
}
console.log(`operator e2e finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
