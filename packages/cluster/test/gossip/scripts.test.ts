/**
 * Deterministic gossip scenarios as text scripts (etcd-io/raft's datadriven style): each file
 * in testdata/ is a list of commands, each followed by `----` and its expected output, ended
 * by a blank line. The simulation is seeded, so output is exact. To rewrite expectations
 * after an intended behaviour change: `UPDATE_GOLDEN=1 node --test test/gossip/scripts.test.ts`
 * and review the diff.
 *
 * Commands (one handler each):
 *   cluster seed=N [preset=lan|local] [nodes=a,b,c] [k=v config overrides]  nodes join the first
 *   add ID via=SEED          crash ID          restart ID via=SEED          leave ID
 *   partition a,b|c,d        heal              loss RATE                     slow ID DELAY_MS
 *   run DURATION_MS          members ID        converged
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type GossipConfigInput, resolveGossipConfig } from '../../src/gossip/config.ts';
import { Simulation } from '../../src/sim/simulation.ts';

const dir = join(import.meta.dirname, 'testdata');
const update = process.env.UPDATE_GOLDEN === '1';

interface Block {
  readonly command: string;
  readonly expected: string;
}

function parse(text: string): { blocks: Block[]; header: string } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const headerLines: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      if (blocks.length === 0) headerLines.push(line);
      i++;
      continue;
    }
    assert.equal(lines[i + 1], '----', `line ${i + 2}: expected ---- after "${line}"`);
    i += 2;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    blocks.push({ command: line, expected: out.join('\n') });
  }
  return { blocks, header: headerLines.join('\n') };
}

class Runner {
  private sim: Simulation | undefined;
  private seen = 0;

  exec(command: string): string {
    const [verb, ...args] = command.split(/\s+/);
    const kv = Object.fromEntries(
      args.filter((a) => a.includes('=')).map((a) => a.split('=', 2) as [string, string]),
    );
    const pos = args.filter((a) => !a.includes('='));
    switch (verb) {
      case 'cluster':
        return this.cluster(kv);
      case 'add':
        this.s.addNode(pos[0]!, [kv.via!]);
        return 'ok';
      case 'crash':
        this.s.crash(pos[0]!);
        return 'ok';
      case 'restart':
        this.s.restart(pos[0]!, [kv.via!]);
        return 'ok';
      case 'leave':
        this.s.leave(pos[0]!);
        return this.drain();
      case 'partition':
        this.s.partition(pos[0]!.split('|').map((g) => g.split(',')));
        return 'ok';
      case 'heal':
        this.s.heal();
        return 'ok';
      case 'loss':
        this.s.setNetwork({ lossRate: Number(pos[0]) });
        return 'ok';
      case 'slow':
        this.s.setSlow(pos[0]!, Number(pos[1]));
        return 'ok';
      case 'run':
        this.s.runFor(Number(pos[0]));
        return this.drain();
      case 'members':
        return this.s
          .core(pos[0]!)
          .members()
          .map((m) => `${m.id} ${m.state} inc=${m.incarnation}`)
          .join('\n');
      case 'converged':
        return this.converged();
      default:
        throw new Error(`unknown command ${verb}`);
    }
  }

  private get s(): Simulation {
    assert.ok(this.sim, 'run "cluster" first');
    return this.sim;
  }

  private cluster(kv: Record<string, string>): string {
    const { seed, nodes, ...rest } = kv;
    this.sim = new Simulation({ seed: Number(seed), config: resolveGossipConfig(rest as GossipConfigInput) });
    this.seen = 0;
    const ids = (nodes ?? 'n1,n2,n3').split(',');
    ids.forEach((id, i) => {
      this.sim!.addNode(id, i === 0 ? [] : [ids[0]!]);
    });
    return this.drain();
  }

  /** Events since the last command, one line each, in order. */
  private drain(): string {
    const lines = this.s.events
      .slice(this.seen)
      .map(
        (e) =>
          `${e.atMs}ms ${e.observer}: ${e.event.type} ${e.event.member.id} ${e.event.member.state} inc=${e.event.member.incarnation}`,
      );
    this.seen = this.s.events.length;
    return lines.length === 0 ? 'no events' : lines.join('\n');
  }

  /** Whether every running node has the same view, and what it is. */
  private converged(): string {
    const views = new Map<string, string[]>();
    for (const id of this.s.nodeIds()) {
      if (this.s.isCrashed(id)) continue;
      const view = this.s
        .core(id)
        .members()
        .map((m) => `${m.id}:${m.state}`)
        .join(' ');
      views.set(view, [...(views.get(view) ?? []), id]);
    }
    if (views.size === 1) return `agreed: ${[...views.keys()][0]}`;
    return [...views].map(([view, ids]) => `${ids.join(',')} see ${view}`).join('\n');
  }
}

describe('gossip scripts', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt'))) {
    it(file, () => {
      const path = join(dir, file);
      const { blocks, header } = parse(readFileSync(path, 'utf8'));
      const runner = new Runner();
      const actual = blocks.map((b) => ({ command: b.command, expected: runner.exec(b.command) }));
      if (update) {
        const body = actual.map((b) => `${b.command}\n----\n${b.expected}\n`).join('\n');
        writeFileSync(path, `${header.trimEnd()}\n\n${body}`);
        return;
      }
      actual.forEach((a, i) => {
        assert.equal(a.expected, blocks[i]!.expected, `${file}: ${a.command}`);
      });
    });
  }
});
