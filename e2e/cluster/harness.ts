/**
 * Longbow node processes for the cluster tests: each is `longbow serve` (the real CLI) with
 * its own data directory, fixed loopback (or namespace) ports chosen free at creation so a
 * restart comes back at the same addresses, and gossip on the `local` preset with short
 * timings. Log lines (JSON) are kept; `waitForLog` resolves on the first match.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '@longbow/testkit';

const CLI = path.join(import.meta.dirname, '../../packages/server/bin/longbow.js');

/** Gossip timings for tests: detection of a crash in about 1–2 s on loopback. */
export const FAST_GOSSIP_ENV: Record<string, string> = {
  LONGBOW_GOSSIP_PRESET: 'local',
  LONGBOW_GOSSIP_PROBE_INTERVAL_MS: '200',
  LONGBOW_GOSSIP_PROBE_TIMEOUT_MS: '80',
  LONGBOW_GOSSIP_SUSPICION_MULT: '3',
  LONGBOW_GOSSIP_PUSH_PULL_INTERVAL_MS: '3000',
};

/**
 * Bound on crash detection with FAST_GOSSIP_ENV and 3 nodes, ms: the crashed node is probed
 * within (N − 1) periods (2 × 200), that probe fails within one period (200), the suspicion
 * expires at most at its Lifeguard maximum (suspicionMaxTimeoutMult 3 × suspicionMult 3 ×
 * max(1, log10 3) × 200 = 1800), plus 1000 of slack for a shared, busy machine.
 */
export const DETECTION_BOUND_MS = 2 * 200 + 200 + 3 * 3 * 200 + 1000;

export interface LogLine {
  readonly msg: string;
  readonly level: string;
  readonly [k: string]: unknown;
}

export interface NodeProcOptions {
  readonly id: string;
  readonly host: string;
  readonly ports: { data: number; meta: number; http: number; gossip: number };
  readonly seeds: readonly string[];
  readonly mode: 'proxy' | 'redirect';
  /** Command prefix, e.g. `['ip','netns','exec','ns1']`. */
  readonly prefix?: readonly string[];
  readonly extraEnv?: Record<string, string>;
}

/** One `longbow serve` process that can be killed and restarted with the same identity. */
export class NodeProc {
  readonly opts: NodeProcOptions;
  readonly dataDir: string;
  lines: LogLine[] = [];
  proc: ChildProcess | undefined;
  exited = true;
  private waiters = new Set<() => void>();

  constructor(opts: NodeProcOptions) {
    this.opts = opts;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `longbow-${opts.id}-`));
  }

  get id(): string {
    return this.opts.id;
  }
  get dataAddr(): string {
    return `${this.opts.host}:${this.opts.ports.data}`;
  }
  get metaAddr(): string {
    return `${this.opts.host}:${this.opts.ports.meta}`;
  }
  get gossipAddr(): string {
    return `${this.opts.host}:${this.opts.ports.gossip}`;
  }

  /** Spawns the process and resolves once it logs `Longbow node ready`. */
  async start(timeoutMs = 20_000): Promise<void> {
    const { opts } = this;
    this.lines = [];
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      LONGBOW_NODE_ID: opts.id,
      LONGBOW_LISTEN_ADDR: this.dataAddr,
      LONGBOW_META_ADDR: this.metaAddr,
      LONGBOW_METRICS_ADDR: `${opts.host}:${opts.ports.http}`,
      LONGBOW_DATA_PATH: this.dataDir,
      LONGBOW_SNAPSHOT_PATH: path.join(this.dataDir, 'snapshots'),
      LONGBOW_INDEX_WORKERS: '1',
      LONGBOW_SHUTDOWN_GRACE: '2s',
      LONGBOW_LOG_LEVEL: 'info',
      LONGBOW_GOSSIP_ENABLED: 'true',
      LONGBOW_GOSSIP_BIND_ADDR: opts.host,
      LONGBOW_GOSSIP_PORT: String(opts.ports.gossip),
      LONGBOW_GOSSIP_STATIC_PEERS: opts.seeds.join(','),
      LONGBOW_ROUTING_MODE: opts.mode,
      ...FAST_GOSSIP_ENV,
      ...opts.extraEnv,
    };
    const argv = [...(opts.prefix ?? []), process.execPath, CLI, 'serve'];
    const proc = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = false;
    const onLine = (line: string): void => {
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.lines.push({ msg: line, level: 'raw' });
      }
      for (const w of [...this.waiters]) w();
    };
    createInterface({ input: proc.stdout! }).on('line', onLine);
    createInterface({ input: proc.stderr! }).on('line', onLine);
    proc.on('exit', () => {
      if (this.proc === proc) this.exited = true;
      for (const w of [...this.waiters]) w();
    });
    await this.waitForLog((l) => l.msg === 'Longbow node ready', timeoutMs, 'ready');
  }

  /** Resolves with the first log line matching `match`; rejects on exit or timeout. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.lines.find(match);
        if (hit) {
          done();
          resolve(hit);
        } else if (this.exited) {
          done();
          reject(new Error(`${this.id} exited before ${what}: ${JSON.stringify(this.lines.slice(-5))}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${this.id}: no ${what} within ${timeoutMs} ms; last: ${JSON.stringify(this.lines.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends `signal` to this node's own pid and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || this.exited) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  }

  /** Kills the process (if running) and removes its data directory. */
  async dispose(): Promise<void> {
    await this.kill('SIGKILL');
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Creates `count` loopback nodes n1..nN on free ports, each seeded with every other's gossip address. */
export async function loopbackCluster(
  count: number,
  mode: 'proxy' | 'redirect',
  host = '127.0.0.1',
  extraEnv: Record<string, string> = {},
): Promise<NodeProc[]> {
  const ports = [];
  for (let i = 0; i < count; i++) {
    ports.push({
      data: await freePort(host),
      meta: await freePort(host),
      http: await freePort(host),
      gossip: await freePort(host),
    });
  }
  const gossipAddrs = ports.map((p) => `${host}:${p.gossip}`);
  return ports.map(
    (p, i) =>
      new NodeProc({
        id: `n${i + 1}`,
        host,
        ports: p,
        seeds: gossipAddrs.filter((_, j) => j !== i),
        mode,
        extraEnv,
      }),
  );
}
