import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterConfigError } from '../../src/errors.ts';
import {
  gossipInputFromEnv,
  LAN_PRESET,
  LOCAL_PRESET,
  resolveGossipConfig,
  splitHostPort,
} from '../../src/gossip/config.ts';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ClusterConfigError);
    return err.field;
  }
  assert.fail('did not throw');
}

describe('gossip config', () => {
  it('defaults to the LAN preset with gossip disabled on port 7946', () => {
    const cfg = resolveGossipConfig();
    assert.deepEqual(cfg, LAN_PRESET);
    assert.equal(cfg.enabled, false);
    assert.equal(cfg.port, 7946);
    assert.equal(cfg.advertiseAddr, undefined);
    assert.ok(Object.isFrozen(cfg));
  });

  it('starts from the local preset when asked and applies overrides', () => {
    const cfg = resolveGossipConfig({ preset: 'local', probeIntervalMs: 500, probeTimeoutMs: 100 });
    assert.equal(cfg.gossipIntervalMs, LOCAL_PRESET.gossipIntervalMs);
    assert.equal(cfg.probeIntervalMs, 500);
    assert.equal(cfg.probeTimeoutMs, 100);
  });

  it('maps the LONGBOW_GOSSIP_* environment and coerces strings', () => {
    const cfg = resolveGossipConfig(
      gossipInputFromEnv({
        LONGBOW_GOSSIP_ENABLED: 'true',
        LONGBOW_GOSSIP_PORT: '8000',
        LONGBOW_GOSSIP_ADVERTISE_ADDR: '10.1.2.3:8000',
        LONGBOW_GOSSIP_STATIC_PEERS: 'a:8000, b:8000,,',
        LONGBOW_GOSSIP_DNS_RECORD: 'longbow-headless.default.svc',
        LONGBOW_GOSSIP_DNS_RECORD_UNRELATED: 'x',
        LONGBOW_GOSSIP_PRESET: 'local',
        HOME: '/root',
      }),
    );
    assert.equal(cfg.enabled, true);
    assert.equal(cfg.port, 8000);
    assert.equal(cfg.advertiseAddr, '10.1.2.3:8000');
    assert.deepEqual(cfg.staticPeers, ['a:8000', 'b:8000']);
    assert.equal(cfg.dnsRecord, 'longbow-headless.default.svc');
    assert.equal(cfg.probeTimeoutMs, LOCAL_PRESET.probeTimeoutMs);
  });

  it('derives the advertise address from a specific bind address, never a wildcard', () => {
    assert.equal(resolveGossipConfig({ bindAddr: '127.0.0.2', port: 9000 }).advertiseAddr, '127.0.0.2:9000');
    assert.equal(resolveGossipConfig({ bindAddr: '::1', port: 9000 }).advertiseAddr, '[::1]:9000');
    assert.equal(
      fieldOf(() => resolveGossipConfig({ advertiseAddr: '0.0.0.0:7946' })),
      'advertiseAddr',
    );
  });

  it('names the field on every kind of error', () => {
    assert.equal(
      fieldOf(() => resolveGossipConfig({ port: '70000' })),
      'port',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ port: 'abc' })),
      'port',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ enabled: 'yes' })),
      'enabled',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ probeIntervalMs: 0 })),
      'probeIntervalMs',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ probeTimeoutMs: 1000 })),
      'probeTimeoutMs',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ suspicionMult: 1 })),
      'suspicionMult',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ staticPeers: 'host-without-port' })),
      'staticPeers',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ preset: 'wan' })),
      'preset',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ udpPacketSizeBytes: 100 })),
      'udpPacketSizeBytes',
    );
    assert.equal(
      fieldOf(() => resolveGossipConfig({ nope: 1 } as never)),
      'nope',
    );
  });

  it('splits host:port including bracketed IPv6', () => {
    assert.deepEqual(splitHostPort('a.b:1'), { host: 'a.b', port: 1 });
    assert.deepEqual(splitHostPort('[fe80::1]:7946'), { host: 'fe80::1', port: 7946 });
    assert.equal(splitHostPort('fe80::1:7946'), undefined);
    assert.equal(splitHostPort('a:0'), undefined);
  });
});
