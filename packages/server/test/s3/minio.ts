/**
 * A real S3-compatible server for tests: MinIO, built once by setup-minio.sh (cached
 * outside the repository), run on loopback with its own data directory and stopped by its
 * pid.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@longbow/testkit';

const SETUP = path.join(import.meta.dirname, 'setup-minio.sh');
export const MINIO_USER = 'longbow-test';
export const MINIO_PASSWORD = 'longbow-test-secret';

/** The MinIO binary, built on first use (minutes the first time; cached afterwards). */
export async function minioBinary(): Promise<string> {
  const { stdout } = await promisify(execFile)(SETUP, { timeout: 30 * 60_000, maxBuffer: 16 << 20 });
  return stdout.trim().split('\n').at(-1)!;
}

/** One MinIO process; `stop` and `start` again keep its data (same directory and port). */
export class MinioServer {
  readonly dir: string;
  readonly port: number;
  private readonly bin: string;
  private proc: ChildProcess | undefined;

  private constructor(bin: string, dir: string, port: number) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
  }

  static async create(dir: string): Promise<MinioServer> {
    return new MinioServer(await minioBinary(), dir, await freePort());
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const log = await fs.open(path.join(path.dirname(this.dir), 'minio.log'), 'a');
    this.proc = spawn(this.bin, ['server', this.dir, '--address', `127.0.0.1:${this.port}`, '--quiet'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MINIO_ROOT_USER: MINIO_USER,
        MINIO_ROOT_PASSWORD: MINIO_PASSWORD,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
      },
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`minio exited with ${this.proc.exitCode}`);
      try {
        const res = await fetch(`${this.endpoint}/minio/health/ready`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('minio did not become ready in 60 s');
  }

  /** SIGKILL by pid: the server vanishes mid-request, as an outage would. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    process.kill(p.pid!, 'SIGKILL');
    await exited;
    this.proc = undefined;
  }
}
