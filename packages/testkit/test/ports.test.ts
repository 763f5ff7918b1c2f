import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ephemeralPortRange, freePorts, isPortFree, testPortPool } from '../src/index.ts';

describe('test port allocation', () => {
  it('reads the ephemeral range from the sysctl file, with the Linux default when absent', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ports-'));
    const file = path.join(dir, 'range');
    fs.writeFileSync(file, '40000\t50000\n');
    assert.deepEqual(ephemeralPortRange(file), { lo: 40000, hi: 50000 });
    assert.deepEqual(ephemeralPortRange(path.join(dir, 'missing')), { lo: 32768, hi: 60999 });
    fs.rmSync(dir, { recursive: true });
  });

  it('draws from outside the ephemeral range, below it when there is room, else above', () => {
    assert.deepEqual(testPortPool({ lo: 32768, hi: 60999 }), { lo: 10000, hi: 32767 });
    assert.deepEqual(testPortPool({ lo: 10500, hi: 60999 }), { lo: 61000, hi: 65535 });
    assert.throws(() => testPortPool({ lo: 1024, hi: 65000 }), /no test port pool/);
  });

  it('returns distinct ports outside the ephemeral range that TCP and UDP can bind', async () => {
    const ephemeral = ephemeralPortRange();
    const ports = await freePorts(50);
    assert.equal(new Set(ports).size, 50);
    for (const p of ports) {
      assert.ok(p < ephemeral.lo || p > ephemeral.hi, `${p} lies in the ephemeral range`);
      assert.ok(await isPortFree(p));
    }
  });

  it('reports a port held over TCP, or over UDP only, as taken', async () => {
    const [tcpPort, udpPort] = await freePorts(2);
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(tcpPort, '127.0.0.1', resolve));
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(udpPort, '127.0.0.1', resolve));
    assert.equal(await isPortFree(tcpPort!), false);
    assert.equal(await isPortFree(udpPort!), false);
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await new Promise<void>((resolve) => udp.close(resolve));
    assert.equal(await isPortFree(tcpPort!), true);
  });
});
