import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMs, WorkQueue } from '../../src/reconcile/queue.ts';

const until = async (check: () => boolean, timeoutMs = 2000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('WorkQueue', () => {
  it('never runs one key twice at once and reruns a key that changed meanwhile', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const queue = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        if (runs === 1) await new Promise<void>((r) => (release = r));
        running--;
        return undefined;
      },
      () => undefined,
    );
    const done = queue.run();
    queue.add('ns/a');
    await until(() => runs === 1);
    queue.add('ns/a');
    queue.add('ns/a');
    release();
    await until(() => runs === 2);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(runs, 2, 'two adds during the pass collapse into one rerun');
    assert.equal(maxRunning, 1);
    await queue.stop();
    await done;
  });

  it('retries failures with growing delays and stops retrying after a success', async () => {
    const times: number[] = [];
    const queue = new WorkQueue(
      async () => {
        times.push(Date.now());
        if (times.length < 3) throw new Error('boom');
        return undefined;
      },
      () => undefined,
      { baseMs: 20, maxMs: 1000 },
    );
    void queue.run();
    queue.add('ns/a');
    await until(() => times.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(times.length, 3);
    assert.ok(times[2]! - times[1]! >= times[1]! - times[0]! - 5, 'second retry waits at least as long');
    await queue.stop();
  });

  it('caps the backoff', () => {
    assert.deepEqual(
      [1, 2, 3, 10, 30].map((n) => backoffDelayMs(n, { baseMs: 500, maxMs: 60_000 })),
      [500, 1000, 2000, 60_000, 60_000],
    );
  });
});
