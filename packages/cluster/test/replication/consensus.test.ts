/**
 * The topology compare-and-set (src/replication/consensus.ts) in a deterministic simulation:
 * nodes that propose membership changes concurrently over a network that loses, delays and
 * reorders messages, partitions, and nodes that crash and come back with their durable state.
 * Checked after every step: no slot ever has two values on two nodes; no change is decided
 * by a minority side; after healing, every node learns every slot and every proposal ends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Random, randomInt, seededRandom } from '../../src/gossip/random.ts';
import {
  type ConsensusDurable,
  type ConsensusHost,
  type ConsensusMessage,
  ConsensusNode,
  type Outbound,
} from '../../src/replication/consensus.ts';
import type { Topology } from '../../src/replication/placement.ts';

type Change = { readonly op: 'add' | 'remove'; readonly node: string };

const host: ConsensusHost<Topology, Change> = {
  apply: (t, c) => ({
    epoch: t.epoch + 1,
    members:
      c.op === 'add' ? [...new Set([...t.members, c.node])].sort() : t.members.filter((m) => m !== c.node),
  }),
  acceptors: (t) => t.members,
};

interface Flight {
  at: number;
  seq: number;
  from: string;
  to: string;
  message: ConsensusMessage<Change>;
}

class World {
  readonly random: Random;
  readonly nodes = new Map<string, ConsensusNode<Topology, Change>>();
  readonly disks = new Map<string, ConsensusDurable<Change>>();
  readonly down = new Set<string>();
  side = new Map<string, number>();
  now = 0;
  seq = 0;
  lossRate = 0.1;
  flights: Flight[] = [];
  /** The first value seen decided for each slot, anywhere. */
  readonly chosen: string[] = [];
  readonly outcomes: { id: string; result: string }[] = [];

  constructor(seed: number, ids: string[], members: string[]) {
    this.random = seededRandom(seed);
    const initial: Topology = { epoch: 0, members };
    for (const id of ids) {
      this.nodes.set(
        id,
        new ConsensusNode(id, initial, host, seededRandom(seed * 31 + id.length), {
          roundTimeoutMs: 200,
          retryJitterMs: 200,
        }),
      );
    }
  }

  send(from: string, out: Outbound<Change>[]): void {
    // Persist before sending, as the host must.
    this.disks.set(from, this.nodes.get(from)!.durable());
    for (const o of out) {
      if (this.random.next() < this.lossRate) continue;
      this.flights.push({
        at: this.now + 1 + randomInt(this.random, 40),
        seq: this.seq++,
        from,
        to: o.to,
        message: o.message,
      });
    }
  }

  connected(a: string, b: string): boolean {
    return !this.down.has(a) && !this.down.has(b) && (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  /** Runs until `until` ms, delivering messages and ticking timers every 10 ms. */
  runTo(until: number): void {
    while (this.now < until) {
      this.now += 10;
      this.flights.sort((x, y) => x.at - y.at || x.seq - y.seq);
      while (this.flights.length > 0 && this.flights[0]!.at <= this.now) {
        const f = this.flights.shift()!;
        if (!this.connected(f.from, f.to)) continue;
        this.send(f.to, this.nodes.get(f.to)!.receive(f.from, f.message));
      }
      for (const [id, n] of this.nodes) if (!this.down.has(id)) this.send(id, n.tick(this.now));
      this.collect();
      this.checkAgreement();
    }
  }

  collect(): void {
    for (const n of this.nodes.values()) this.outcomes.push(...n.takeOutcomes());
  }

  checkAgreement(): void {
    for (const [id, n] of this.nodes) {
      const log = n.durable().decided;
      log.forEach((p, i) => {
        const first = this.chosen[i];
        if (first === undefined) this.chosen[i] = p.id;
        else assert.equal(p.id, first, `slot ${i + 1}: ${id} decided ${p.id}, another node ${first}`);
      });
    }
  }

  crash(id: string): void {
    this.down.add(id);
  }

  restart(id: string): void {
    this.down.delete(id);
    const disk = this.disks.get(id);
    if (disk) this.nodes.get(id)!.restore(disk);
  }
}

describe('topology consensus (single-decree Paxos per slot)', () => {
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
  const members = ['n1', 'n2', 'n3', 'n4', 'n5'];

  it('over 400 seeds of concurrent proposers, loss, partitions and crashes: one value per slot, and progress after healing', () => {
    let decided = 0;
    let conflicts = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const w = new World(seed, ids, members);
      for (let step = 0; step < 60; step++) {
        const r = w.random.next();
        const id = ids[randomInt(w.random, ids.length)]!;
        const n = w.nodes.get(id)!;
        if (r < 0.5 && !w.down.has(id) && !n.proposing) {
          const target = ids[randomInt(w.random, ids.length)]!;
          const change: Change = { op: n.state.members.includes(target) ? 'remove' : 'add', node: target };
          // Never shrink below three members (the host's rule, not Paxos's).
          if (change.op === 'add' || n.state.members.length > 3)
            w.send(id, n.propose(change, n.slot, w.now).out);
        } else if (r < 0.6) w.crash(id);
        else if (r < 0.75) w.restart(id);
        else if (r < 0.85) w.side = new Map(ids.map((x) => [x, randomInt(w.random, 2)]));
        else w.side = new Map();
        w.runTo(w.now + 50 + randomInt(w.random, 200));
      }
      // Heal: everyone up, one side, no loss; every node learns every slot, every proposal ends.
      for (const id of ids) w.restart(id);
      w.side = new Map();
      w.lossRate = 0;
      w.runTo(w.now + 5000);
      const slots = new Set([...w.nodes.values()].map((n) => n.slot));
      const anyNode = [...w.nodes.values()][0]!;
      // A node that talks to nobody after healing learns through a proposal; poke each once.
      for (const [id, n] of w.nodes)
        for (const peer of ids)
          if (peer !== id) w.send(id, [{ to: peer, message: { type: 'behind', slot: n.slot + 1 } }]);
      w.runTo(w.now + 1000);
      const after = new Set([...w.nodes.values()].map((n) => n.slot));
      assert.equal(after.size, 1, `seed ${seed}: slots ${[...slots]} → ${[...after]}`);
      assert.ok(![...w.nodes.values()].some((n) => n.proposing), `seed ${seed}: a proposal never ended`);
      decided += w.outcomes.filter((o) => o.result === 'decided').length;
      conflicts += w.outcomes.filter((o) => o.result === 'conflict').length;
      assert.deepEqual(anyNode.state.members.length >= 3, true);
    }
    assert.ok(decided > 400 && conflicts > 50, `decided ${decided}, conflicts ${conflicts}`);
  });

  it('a 2|3 partition: the minority decides nothing, the majority goes on, the minority learns after healing', () => {
    const w = new World(7, members, members);
    w.lossRate = 0;
    w.side = new Map([
      ['n1', 1],
      ['n2', 1],
    ]);
    const minority = w.nodes.get('n1')!;
    const majority = w.nodes.get('n3')!;
    w.send('n1', minority.propose({ op: 'add', node: 'n6' }, 0, w.now).out);
    w.send('n3', majority.propose({ op: 'add', node: 'n7' }, 0, w.now).out);
    w.runTo(3000);
    assert.equal(minority.slot, 0);
    assert.equal(majority.slot, 1);
    assert.deepEqual(majority.state.members, ['n1', 'n2', 'n3', 'n4', 'n5', 'n7']);
    w.side = new Map();
    w.runTo(6000);
    assert.equal(minority.slot, 1);
    assert.deepEqual(minority.state, majority.state);
    assert.deepEqual(
      w.outcomes.map((o) => o.result).sort(),
      ['conflict', 'decided'],
      'n1 learns that its CAS lost',
    );
  });

  it('an acceptor keeps its promise through a crash (the interleaving that would choose two values)', () => {
    const three = ['n1', 'n2', 'n3'];
    const node = new Map(
      three.map((id) => [
        id,
        new ConsensusNode<Topology, Change>(id, { epoch: 0, members: three }, host, seededRandom(1)),
      ]),
    );
    type Msg = { from: string; to: string; message: ConsensusMessage<Change> };
    const from = (id: string, out: Outbound<Change>[]): Msg[] => out.map((o) => ({ from: id, ...o }));
    /** Delivers the messages addressed to `to` (to all when omitted); returns the replies. */
    const deliver = (msgs: Msg[], to?: readonly string[]): Msg[] =>
      msgs
        .filter((m) => !to || to.includes(m.to))
        .flatMap((m) => from(m.to, node.get(m.to)!.receive(m.from, m.message)));
    const [p1, b, p2] = three.map((id) => node.get(id)!) as [
      ConsensusNode<Topology, Change>,
      ConsensusNode<Topology, Change>,
      ConsensusNode<Topology, Change>,
    ];
    // p1 prepares (1, n1); p1 and b promise, the promises wait in the network.
    const promises1 = deliver(from('n1', p1.propose({ op: 'add', node: 'n6' }, 0, 0).out), ['n1', 'n2']);
    // p2 prepares (1, n3), higher; b and p2 promise; p2 sends accept(n7), which waits.
    const accepts2 = deliver(
      deliver(from('n3', p2.propose({ op: 'add', node: 'n7' }, 0, 0).out), ['n2', 'n3']),
    );
    // b crashes and comes back from its disk.
    b.restore(b.durable());
    // p1 gets its promises and sends accept(n6): p1 takes it, b must refuse it.
    deliver(deliver(deliver(promises1), ['n1', 'n2']));
    // p2's accepts reach b and p2: chosen.
    deliver(deliver(accepts2, ['n2', 'n3']));
    const chosen = [p1, p2].filter((n) => n.slot === 1).map((n) => n.durable().decided[0]!.change.node);
    assert.deepEqual(chosen, ['n7'], 'n7 alone is chosen for slot 1');
  });

  it('refuses a proposal for a slot it already knows is taken, and a second one in flight', () => {
    const w = new World(3, members, members);
    const n = w.nodes.get('n1')!;
    w.send('n1', n.propose({ op: 'add', node: 'n6' }, 0, 0).out);
    assert.throws(() => n.propose({ op: 'add', node: 'n7' }, 0, 0), /still in flight/);
    w.lossRate = 0;
    w.runTo(2000);
    assert.equal(n.slot, 1);
    assert.deepEqual(n.propose({ op: 'add', node: 'n7' }, 0, w.now).out, []);
    w.collect();
    assert.deepEqual(
      w.outcomes.map((o) => o.result),
      ['decided', 'conflict'],
    );
  });
});
