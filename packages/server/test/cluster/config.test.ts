/**
 * The cluster settings of the node's configuration: defaults (gossip off, proxy mode),
 * errors that name the variable, and advertised addresses that are never a wildcard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/config.ts';

describe('cluster configuration', () => {
  it('defaults: gossip off, proxy routing, 2 s forward connect timeout', () => {
    const cfg = resolveConfig({});
    assert.equal(cfg.gossip.enabled, false);
    assert.equal(cfg.routingMode, 'proxy');
    assert.equal(cfg.forwardConnectTimeoutMs, 2000);
  });

  it('reads LONGBOW_GOSSIP_*, LONGBOW_ROUTING_MODE and LONGBOW_FORWARD_CONNECT_TIMEOUT', () => {
    const cfg = resolveConfig({
      LONGBOW_GOSSIP_ENABLED: 'true',
      LONGBOW_GOSSIP_PORT: '7000',
      LONGBOW_GOSSIP_STATIC_PEERS: '10.0.0.2:7000,10.0.0.3:7000',
      LONGBOW_GOSSIP_PRESET: 'local',
      LONGBOW_ROUTING_MODE: 'REDIRECT',
      LONGBOW_FORWARD_CONNECT_TIMEOUT: '500ms',
      LONGBOW_ADVERTISE_HOST: '10.0.0.1',
    });
    assert.equal(cfg.gossip.enabled, true);
    assert.equal(cfg.gossip.port, 7000);
    assert.deepEqual(cfg.gossip.staticPeers, ['10.0.0.2:7000', '10.0.0.3:7000']);
    assert.equal(cfg.routingMode, 'redirect');
    assert.equal(cfg.forwardConnectTimeoutMs, 500);
    // Bound to a wildcard: peers are told the advertised host, never 0.0.0.0.
    assert.equal(cfg.gossip.advertiseAddr, '10.0.0.1:7000');
  });

  it('POD_IP feeds the advertised gossip address; an explicit one wins', () => {
    assert.equal(resolveConfig({ POD_IP: '10.1.2.3' }).gossip.advertiseAddr, '10.1.2.3:7946');
    assert.equal(
      resolveConfig({ POD_IP: '10.1.2.3', LONGBOW_GOSSIP_ADVERTISE_ADDR: 'lb-0.lb:7946' }).gossip
        .advertiseAddr,
      'lb-0.lb:7946',
    );
  });

  it('errors name the variable', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ LONGBOW_ROUTING_MODE: 'gossip' }, 'LONGBOW_ROUTING_MODE'],
      [{ LONGBOW_GOSSIP_PORT: 'seventy' }, 'LONGBOW_GOSSIP_PORT'],
      [{ LONGBOW_GOSSIP_ENABLED: 'maybe' }, 'LONGBOW_GOSSIP_ENABLED'],
      [{ LONGBOW_FORWARD_CONNECT_TIMEOUT: '1ms' }, 'LONGBOW_FORWARD_CONNECT_TIMEOUT'],
    ];
    for (const [env, variable] of bad) {
      assert.throws(
        () => resolveConfig(env),
        (err: unknown) => err instanceof ConfigError && err.variable === variable,
        variable,
      );
    }
  });
});
