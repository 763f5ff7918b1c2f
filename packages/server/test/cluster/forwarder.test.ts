/**
 * The forwarder's pool against a real Flight server on loopback: calls go through, a
 * refused peer fails at once (not after the connect timeout), a peer restarted on the same
 * address is used again immediately (the failed channel was replaced), and pools of
 * peers that left are closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { bindInsecure, createFlightServer, type Result } from '@longbow/flight';
import { Forwarder, PeerUnreachableError } from '../../src/cluster/forwarder.ts';

function echoServer(): grpc.Server {
  return createFlightServer({
    DoAction: (call) => {
      call.write({ body: Buffer.from(`echo:${call.request.type}`) });
      call.end();
    },
  });
}

async function action(fw: Forwarder, addr: string, type: string): Promise<string> {
  const call = await fw.open(addr, 'DoAction', new grpc.Metadata(), Date.now() + 5000);
  call.write({ type });
  call.end();
  const out: string[] = [];
  for await (const r of call) out.push(Buffer.from((r as Result).body ?? []).toString());
  return out.join();
}

describe('Forwarder', () => {
  it('forwards, fails fast on a refused peer, reconnects at once after a restart, drops departed peers', async () => {
    const fw = new Forwarder({ maxMessageBytes: 1 << 20, connectTimeoutMs: 3000 });
    let server = echoServer();
    const port = await bindInsecure(server, '127.0.0.1:0');
    const addr = `127.0.0.1:${port}`;
    assert.equal(await action(fw, addr, 'a'), 'echo:a');
    assert.equal(await action(fw, addr, 'b'), 'echo:b'); // second channel of the pool
    assert.equal(fw.health()[0]!.callCount, 2);

    server.forceShutdown();
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      // A channel that has not yet noticed the close may still start the call, which then
      // fails UNAVAILABLE; either way the failure is immediate.
      await assert.rejects(
        action(fw, addr, 'c'),
        (err: { code?: number }) =>
          err instanceof PeerUnreachableError || err.code === grpc.status.UNAVAILABLE,
      );
      assert.ok(performance.now() - t0 < 1000, 'refused: no wait for the 3 s connect timeout');
    }
    await assert.rejects(action(fw, addr, 'c'), PeerUnreachableError);
    assert.ok(fw.health()[0]!.consecutiveFailures >= 1);

    server = echoServer();
    await bindInsecure(server, addr);
    const t1 = performance.now();
    assert.equal(await action(fw, addr, 'd'), 'echo:d');
    assert.ok(performance.now() - t1 < 1000, 'the restarted peer is used without backoff');
    assert.equal(fw.health()[0]!.consecutiveFailures, 0);

    fw.retain(new Set());
    assert.deepEqual(fw.health(), []);
    fw.close();
    await assert.rejects(fw.open(addr, 'DoAction', new grpc.Metadata(), Infinity), PeerUnreachableError);
    server.forceShutdown();
  });
});
