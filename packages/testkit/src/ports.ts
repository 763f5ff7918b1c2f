/**
 * Port allocation for tests that start servers on fixed ports (child processes, MinIO,
 * kube-apiserver, gossip seeds that must be known before the peer binds).
 *
 * Asking the kernel for port 0 and releasing the socket is racy twice over: the kernel may
 * hand the same port to the next `listen(0)` (so two of our own servers collide), and the
 * port lies in the ephemeral range (Linux `net.ipv4.ip_local_port_range`, 32768–60999 by
 * default), where any outgoing connection on the machine may take it as its local port
 * before our server binds — CI saw exactly that as EADDRINUSE. This allocator therefore
 * picks ports from below (or above) the ephemeral range, where only an explicit bind can
 * land, starts at a random offset so parallel test processes spread out, never returns the
 * same port twice within one process, and checks that both TCP and UDP can bind it (gossip
 * uses both on one port).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

/** An inclusive port range `[lo, hi]`. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/**
 * The kernel's ephemeral port range, read from `/proc/sys/net/ipv4/ip_local_port_range`
 * (it applies to IPv6 as well); the Linux default 32768–60999 where the file is absent.
 */
export function ephemeralPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): PortRange {
  try {
    const [lo, hi] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo! > 0 && hi! >= lo!) return { lo: lo!, hi: hi! };
  } catch {
    // Not Linux, or /proc not mounted: fall through to the default.
  }
  return { lo: 32768, hi: 60999 };
}

/**
 * The pool tests draw from: 10000 up to just below the ephemeral range when that leaves at
 * least 1000 ports, else just above it to 65535. Ports below 10000 are left to well-known
 * services.
 *
 * @throws Error when the ephemeral range leaves no room on either side.
 */
export function testPortPool(ephemeral: PortRange = ephemeralPortRange()): PortRange {
  if (ephemeral.lo - 1 - 10000 >= 1000) return { lo: 10000, hi: ephemeral.lo - 1 };
  if (65535 - (ephemeral.hi + 1) >= 1000) return { lo: ephemeral.hi + 1, hi: 65535 };
  throw new Error(
    `no test port pool: the ephemeral range ${ephemeral.lo}-${ephemeral.hi} leaves fewer than 1000 ports on either side`,
  );
}

function canBindTcp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function canBindUdp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** True when `port` on `host` can be bound now for both TCP (listen) and UDP. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await canBindTcp(port, host)) && (await canBindUdp(port, host));
}

/** Ports this process has handed out; never handed out again. */
const handedOut = new Set<number>();
let cursor = -1;

/**
 * A port on `host` that is free for TCP and UDP right now, from `testPortPool()`, never
 * one this process returned before. The port is released before returning; the caller
 * binds it soon after (another process could still bind it first, but only by choosing
 * that exact port, which the random start makes unlikely).
 *
 * @param host the address the port will be bound on (default 127.0.0.1).
 * @throws Error when every port in the pool is taken or already handed out.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const pool = testPortPool();
  const size = pool.hi - pool.lo + 1;
  if (cursor < 0) cursor = Math.floor(Math.random() * size);
  for (let tried = 0; tried < size; tried++) {
    const port = pool.lo + (cursor % size);
    cursor = (cursor + 1) % size;
    if (handedOut.has(port)) continue;
    if (await isPortFree(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on ${host} in ${pool.lo}-${pool.hi}`);
}

/** `count` distinct ports from `freePort(host)`. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort(host));
  return ports;
}
