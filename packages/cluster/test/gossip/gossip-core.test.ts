/**
 * GossipCore behaviours not covered by the scenario scripts: metadata updates, leave
 * completion, the member table bound, misdirected pings and stats.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveGossipConfig } from '../../src/gossip/config.ts';
import { GossipCore } from '../../src/gossip/gossip-core.ts';
import { seededRandom } from '../../src/gossip/random.ts';
import { Simulation } from '../../src/sim/simulation.ts';

const lan = resolveGossipConfig();
const meta = (id: string) => ({ nodeId: id, dataAddr: `${id}:3000`, metaAddr: `${id}:3001`, version: '1' });

function cluster(ids: string[], config = lan): Simulation {
  const sim = new Simulation({ seed: 9, config });
  ids.forEach((id, i) => {
    sim.addNode(id, i === 0 ? [] : [ids[0]!]);
  });
  sim.runFor(3000);
  return sim;
}

describe('GossipCore', () => {
  it('spreads new metadata as an update at a higher incarnation', () => {
    const sim = cluster(['a', 'b', 'c']);
    const core = sim.core('b');
    const updates: string[] = [];
    sim.onEvent = (e) => {
      if (e.event.type === 'update')
        updates.push(`${e.observer}:${e.event.member.meta.version}:${e.event.member.incarnation}`);
    };
    // Through the simulation's own apply path: leave/restart are covered; here drive the core directly.
    const out = core.setMeta(sim.nowMs, { ...meta('b'), dataAddr: 'b:4000', version: '2' });
    assert.equal(out.sends.length, 0, 'metadata waits for the next gossip round or piggyback');
    assert.equal(core.member('b')?.incarnation, 1);
    sim.runFor(3000);
    assert.deepEqual(updates.sort(), ['a:2:1', 'c:2:1']);
    assert.equal(sim.core('a').member('b')?.meta.dataAddr, 'b:4000');
    assert.throws(() => core.setMeta(sim.nowMs, meta('z')), /nodeId cannot change/);
  });

  it('reports a leave as sent once its broadcast used its retransmits, at once when alone', () => {
    const alone = new GossipCore({
      config: lan,
      addr: 'x:1',
      meta: meta('x'),
      random: seededRandom(1),
      nowMs: 0,
    });
    assert.equal(alone.leaveBroadcastSent, false);
    alone.leave(0);
    assert.equal(alone.leaveBroadcastSent, true);
    assert.equal(alone.member('x')?.state, 'left');

    const sim = cluster(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    sim.leave('g');
    // 7 members: 4 * ceil(log10 8) = 4 transmissions; 3 go out at once, the 4th on the next round.
    assert.equal(sim.core('g').leaveBroadcastSent, false);
    sim.runFor(lan.gossipIntervalMs + 1);
    assert.equal(sim.core('g').leaveBroadcastSent, true);
  });

  it('bounds the member table, evicting the longest-gone member first', () => {
    const config = resolveGossipConfig({ memberCountMax: 3 });
    const sim = cluster(['a', 'b', 'c'], config);
    sim.crash('c');
    sim.runFor(60_000);
    assert.equal(sim.core('a').member('c')?.state, 'dead');
    sim.addNode('d', ['a']);
    sim.runFor(3000);
    assert.deepEqual(
      sim
        .core('a')
        .members()
        .map((m) => `${m.id}:${m.state}`),
      ['a:alive', 'b:alive', 'd:alive'],
    );
    sim.addNode('e', ['a']);
    sim.runFor(3000);
    assert.equal(sim.core('a').members().length, 3, 'full of live members: the newcomer is dropped');
    assert.ok(sim.core('a').stats().dropped.memberTableFull >= 1);
  });

  it('ignores a ping meant for another node and counts it', () => {
    const core = new GossipCore({
      config: lan,
      addr: 'x:1',
      meta: meta('x'),
      random: seededRandom(1),
      nowMs: 0,
    });
    const out = core.step(
      5,
      { messages: [{ type: 'ping', seqNo: 1, targetId: 'old-x', sourceId: 'y', sourceAddr: 'y:1' }] },
      'y:1',
    );
    assert.deepEqual(out.sends, []);
    assert.equal(core.stats().dropped.misdirected, 1);
    const ok = core.step(
      6,
      { messages: [{ type: 'ping', seqNo: 2, targetId: 'x', sourceId: 'y', sourceAddr: 'y:1' }] },
      'y:1',
    );
    assert.deepEqual(ok.sends[0]?.packet.messages[0], { type: 'ack', seqNo: 2 });
    assert.equal(ok.sends[0]?.to, 'y:1');
    assert.equal(core.stats().messages.ping.received, 2);
    assert.equal(core.stats().messages.ack.sent, 1);
  });
});
