/**
 * The real file layer really fsyncs: a `longbow serve` process runs under strace(1), which
 * records every fdatasync/fsync system call with the path of its descriptor, and each
 * acknowledged put must have been preceded by an fdatasync of a WAL segment. The simulated
 * disk (durability.test.ts) proves the WAL asks for the fsync before acking; this proves
 * the request reaches the kernel. Skipped (with the reason) where strace is missing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import { freePorts } from '@longbow/testkit';
import type { RecordBatch } from 'apache-arrow';
import { vectorBatch, vectorSchema } from '../fixtures/vector-batch.ts';

const CLI = fileURLToPath(new URL('../../bin/longbow.js', import.meta.url));
const SCHEMA = vectorSchema(2);

function strace(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v strace'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function batch(id: number): RecordBatch {
  return vectorBatch([id], 2, (i, c) => (c === 0 ? i : 1));
}

/** Resolves with the node's own pid (strace's child) once it is ready. */
async function waitReady(proc: ChildProcess): Promise<number> {
  const lines: string[] = [];
  return new Promise<number>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines.push(l);
      if (!l.includes('Longbow node ready')) return;
      const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim();
      resolve(Number(children.split(' ')[0]));
    });
    proc.once('exit', (code) =>
      reject(new Error(`longbow exited (${code}) before ready: ${lines.slice(-5)}`)),
    );
  });
}

const bin = strace();

describe('the real file layer', { skip: bin ? false : 'strace is not installed' }, () => {
  it('fdatasyncs a WAL segment before each acknowledged put', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-strace-'));
    const trace = path.join(dir, 'trace.txt');
    const [data, meta, http] = await freePorts(3);
    const proc = spawn(
      bin!,
      ['-f', '-qq', '-y', '-e', 'trace=fdatasync,fsync', '-o', trace, process.execPath, CLI, 'serve'],
      {
        env: {
          ...process.env,
          LONGBOW_LISTEN_ADDR: `127.0.0.1:${data}`,
          LONGBOW_META_ADDR: `127.0.0.1:${meta}`,
          LONGBOW_METRICS_ADDR: `127.0.0.1:${http}`,
          LONGBOW_DATA_PATH: path.join(dir, 'wal'),
          LONGBOW_SNAPSHOT_PATH: path.join(dir, 'snapshots'),
          LONGBOW_INDEX_WORKERS: '1',
          LONGBOW_GOSSIP_ENABLED: 'false',
          LONGBOW_STORAGE_ASYNC_FSYNC: 'false',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const client = new FlightClient(`127.0.0.1:${data}`);
    let nodePid: number | undefined;
    try {
      nodePid = await waitReady(proc);
      const syncsOf = async () =>
        (await fs.readFile(trace, 'utf8'))
          .split('\n')
          .filter((l) => /\bfdatasync\(\d+<[^>]*\/wal\/wal-\d{20}\.log>\) = 0/.test(l)).length;
      const puts = 5;
      for (let i = 0; i < puts; i++) {
        const before = await syncsOf();
        await client.doPut(pathDescriptor('d'), SCHEMA, [batch(i)]);
        // strace writes a syscall's line when it returns, before the process sees the result.
        assert.ok((await syncsOf()) > before, `put ${i} was acknowledged without an fdatasync of the WAL`);
      }
    } finally {
      client.close();
      // strace ends when the node it traces does; the node is stopped by its own pid.
      const exited = new Promise((r) => proc.once('exit', r));
      if (nodePid !== undefined) process.kill(nodePid, 'SIGKILL');
      else proc.kill('SIGKILL');
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
