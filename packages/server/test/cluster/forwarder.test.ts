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
      // A channel that has not yet noticed the close may still start the call, which then
      // fails UNAVAILABLE. Otherwise the refused connection itself ends the wait (a
      // TRANSIENT_FAILURE), not the 3 s connect timeout, which would say "deadline".
      await assert.rejects(action(fw, addr, 'c'), (err: { code?: number; message: string }) => {
        if (err instanceof PeerUnreachableError)
          assert.match(err.message, /connection failed|channel closed/);
        else assert.equal(err.code, grpc.status.UNAVAILABLE);
        return true;
      });
    }
    await assert.rejects(action(fw, addr, 'c'), /connection failed|channel closed/);
    const failures = fw.health()[0]!.consecutiveFailures;
    assert.ok(failures >= 1);
    // The failed channel was replaced by a fresh one that has not dialled yet, so the next
    // call dials at once rather than after gRPC's reconnect back-off.
    assert.ok(fw.health()[0]!.channels.includes('IDLE'), JSON.stringify(fw.health()));

    server = echoServer();
    await bindInsecure(server, addr);
    assert.equal(await action(fw, addr, 'd'), 'echo:d');
    assert.equal(fw.health()[0]!.consecutiveFailures, 0);

    fw.retain(new Set());
    assert.deepEqual(fw.health(), []);
    fw.close();
    await assert.rejects(fw.open(addr, 'DoAction', new grpc.Metadata(), Infinity), PeerUnreachableError);
    server.forceShutdown();
  });
});
