/**
 * The crash-and-power-loss loop: a node on a simulated disk (fixtures/sim-file-layer.ts)
 * takes bursts of concurrent puts, upserts, deletes, drops and snapshots (compaction runs
 * in the background), the power goes at a random moment in the middle of a burst, the
 * machine boots again and a new node starts on what survived. A checker then holds the
 * history against the state, in the manner of Jepsen's: the WAL orders operations as they
 * were issued, acks come in that order, and what survives a power cut is a prefix of it, so
 * the recovered state must equal the model's state after *some* prefix that contains
 * every acknowledged operation. Anything else is an anomaly, counted by kind: an
 * acknowledged row lost, a deleted row back, an old version of an upserted row, a row
 * twice, a dropped dataset back.
 *
 * Deterministic in its choices (seeded); the moment of the cut depends on I/O timing, so a
 * failing cycle prints its seed and the operations it ran.
 *
 * `node packages/server/test/stress/power-loss.ts [cycles] [seed]` runs the long loop and
 * prints its counts (`make test-power-loss`); power-loss.test.ts runs a short one.
 */
import { seededRandom } from '@longbow/cluster';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import pino from 'pino';
import { LongbowNode } from '../../src/node.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';
import { SimFileLayer } from '../fixtures/sim-file-layer.ts';
import { vectorBatch, vectorSchema } from '../fixtures/vector-batch.ts';

/** Wide rows, so that 1 MiB WAL segments (the smallest allowed) fill and get truncated. */
const DIM = 1024;
const SCHEMA = vectorSchema(DIM);
const DATASETS = ['a', 'b'];
const IDS = 40;

/** One operation as issued. `gen` is the value a put writes (the vector's first component). */
type Op =
  | { kind: 'put'; dataset: string; ids: number[]; gen: number }
  | { kind: 'delete'; dataset: string; ids: number[] }
  | { kind: 'drop'; dataset: string }
  | { kind: 'snapshot' };

/** dataset → id → gen: what a scan must return. */
type State = Map<string, Map<number, number>>;

/** Anomalies by kind, and what ran. */
export interface PowerLossReport {
  cycles: number;
  opsIssued: number;
  opsAcked: number;
  /** Cycles whose cut left operations unacknowledged (in flight or refused). */
  cutsInFlight: number;
  /** Snapshots acknowledged, and the WAL segments they let the node delete. */
  snapshotsAcked: number;
  walSegmentsRemoved: number;
  anomalies: Record<
    'lost' | 'resurrected' | 'staleVersion' | 'duplicated' | 'droppedBack' | 'noPrefix' | 'startFailed',
    number
  >;
  /** The first anomaly, with its seed and cycle, for reproduction. */
  firstFailure?: string;
}

function apply(state: State, op: Op): void {
  if (op.kind === 'snapshot') return;
  if (op.kind === 'drop') {
    state.delete(op.dataset);
    return;
  }
  let rows = state.get(op.dataset);
  if (op.kind === 'delete') {
    for (const id of op.ids) rows?.delete(id);
    return;
  }
  if (!rows) {
    rows = new Map();
    state.set(op.dataset, rows);
  }
  for (const id of op.ids) rows.set(id, op.gen);
}

function clone(state: State): State {
  return new Map([...state].map(([d, rows]) => [d, new Map(rows)]));
}

function equal(a: State, b: State): boolean {
  const names = new Set([...a.keys(), ...b.keys()]);
  for (const d of names) {
    const x = a.get(d) ?? new Map();
    const y = b.get(d) ?? new Map();
    if (x.size !== y.size) return false;
    for (const [id, gen] of x) if (y.get(id) !== gen) return false;
  }
  return true;
}

/** What the recovered node holds, through scans; `duplicated` counts ids seen twice. */
async function readState(client: FlightClient): Promise<{ state: State; duplicated: number }> {
  const state: State = new Map();
  let duplicated = 0;
  const listed = (await client.listFlights()).map((f) => f.flightDescriptor!.path![0]!);
  for (const d of listed) {
    const t = await client.doGetTable(JSON.stringify({ dataset: d }));
    const rows = new Map<number, number>();
    const ids = t.getChild('id')!;
    const vectors = t.getChild('vector')!;
    for (let i = 0; i < t.numRows; i++) {
      const id = Number(ids.get(i));
      if (rows.has(id)) duplicated++;
      rows.set(id, vectors.get(i)!.get(0) as number);
    }
    state.set(d, rows);
  }
  return { state, duplicated };
}

/** Names the difference between the expected and the recovered state, by kind. */
function classify(expected: State, actual: State, report: PowerLossReport): void {
  for (const d of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(d);
    const got = actual.get(d) ?? new Map<number, number>();
    if (!want) {
      if (got.size > 0) report.anomalies.droppedBack++;
      continue;
    }
    for (const [id, gen] of want) {
      if (!got.has(id)) report.anomalies.lost++;
      else if (got.get(id) !== gen) report.anomalies.staleVersion++;
    }
    for (const id of got.keys()) if (!want.has(id)) report.anomalies.resurrected++;
  }
}

function randomOp(rnd: () => number, gen: number): Op {
  const pick = (n: number) => Math.floor(rnd() * n);
  const dataset = DATASETS[pick(DATASETS.length)]!;
  const r = rnd();
  const ids = () => [...new Set(Array.from({ length: 1 + pick(8) }, () => pick(IDS)))];
  if (r < 0.6) return { kind: 'put', dataset, ids: ids(), gen };
  if (r < 0.85) return { kind: 'delete', dataset, ids: ids() };
  if (r < 0.9) return { kind: 'drop', dataset };
  return { kind: 'snapshot' };
}

/**
 * Issues `op` (synchronously up to its WAL append, as the server does on receipt); resolves
 * true when acknowledged, false when refused. A delete or drop of a dataset that does not
 * exist is refused by the node (DATASET_NOT_FOUND) and is a no-op in the model too.
 */
function issue(
  client: FlightClient,
  op: Op,
  onSnapshot: (segmentsRemoved: number) => void,
): Promise<boolean> {
  const call =
    op.kind === 'put'
      ? client.doPut(pathDescriptor(op.dataset), SCHEMA, [
          vectorBatch(op.ids, DIM, (id, c) => (c === 0 ? op.gen : id)),
        ])
      : op.kind === 'delete'
        ? client.doActionJson('delete', { dataset: op.dataset, ids: op.ids })
        : op.kind === 'drop'
          ? client.doActionJson('drop_dataset', { dataset: op.dataset })
          : client.doActionJson<{ wal_segments_removed: number }>('force_snapshot', {}).then((r) => {
              onSnapshot(r.wal_segments_removed);
            });
  return call.then(
    () => true,
    () => false,
  );
}

/**
 * A burst of operations whose effects commute: no two touch the same (dataset, id), and a
 * drop is the only operation on its dataset. The node may append concurrent calls in any
 * order, so only such a burst has an outcome that does not depend on that order.
 */
function randomBurst(rnd: () => number, size: number, nextGen: () => number): Op[] {
  const ops: Op[] = [];
  const touched = new Map<string, Set<number> | 'dropped'>();
  for (let tries = 0; ops.length < size && tries < size * 4; tries++) {
    const op = randomOp(rnd, nextGen());
    if (op.kind === 'snapshot') {
      ops.push(op);
      continue;
    }
    const used = touched.get(op.dataset);
    if (used === 'dropped') continue;
    if (op.kind === 'drop') {
      if (used) continue;
      touched.set(op.dataset, 'dropped');
      ops.push(op);
      continue;
    }
    const ids = op.ids.filter((id) => !used?.has(id));
    if (ids.length === 0) continue;
    const set = used ?? new Set<number>();
    for (const id of ids) set.add(id);
    touched.set(op.dataset, set);
    ops.push({ ...op, ids });
  }
  return ops;
}

/**
 * The states a recovered node may hold: `before` with every acknowledged operation of the
 * burst applied and any subset of the unacknowledged ones (they were in flight at the cut).
 */
function allowedStates(before: State, burst: Op[], acked: boolean[]): State[] {
  const base = clone(before);
  burst.forEach((op, i) => {
    if (acked[i]) applyIfValid(base, op);
  });
  const open = burst.filter((_, i) => !acked[i]);
  const out: State[] = [];
  for (let mask = 0; mask < 1 << open.length; mask++) {
    const s = clone(base);
    open.forEach((op, j) => {
      if (mask & (1 << j)) applyIfValid(s, op);
    });
    out.push(s);
  }
  return out;
}

/** Runs `cycles` power cuts; returns the counts. */
export async function runPowerLossLoop(cycles: number, seed: number): Promise<PowerLossReport> {
  const random = seededRandom(seed);
  const rnd = () => random.next();
  const disk = new SimFileLayer();
  const config = testNodeConfig('/sim/power', {
    nodeId: 'power',
    compactionIntervalMs: 5,
    // Small segments, so snapshots truncate the WAL and a lost snapshot would lose rows.
    walSegmentBytes: 1024 * 1024,
  });
  const log = pino({ level: 'silent' });
  const report: PowerLossReport = {
    cycles: 0,
    opsIssued: 0,
    opsAcked: 0,
    cutsInFlight: 0,
    snapshotsAcked: 0,
    walSegmentsRemoved: 0,
    anomalies: {
      lost: 0,
      resurrected: 0,
      staleVersion: 0,
      duplicated: 0,
      droppedBack: 0,
      noPrefix: 0,
      startFailed: 0,
    },
  };
  let gen = 1;
  const nextGen = () => gen++;
  /** What the node may hold at its next start, and what the last cut ran (for the report). */
  let allowed: State[] = [new Map()];
  let lastRun = 'nothing yet';
  for (let cycle = 0; cycle <= cycles; cycle++) {
    let node: LongbowNode;
    try {
      node = await LongbowNode.start(config, log, { files: disk });
    } catch (err) {
      // What survived the cut cannot even be opened: the worst anomaly, and the end.
      report.anomalies.startFailed++;
      report.firstFailure ??= `seed ${seed}, cycle ${cycle}: start-up failed (${(err as Error).message}) after ${lastRun}`;
      break;
    }
    const client = new FlightClient(node.dataAddress());
    // The check: the recovered state is one the history allows.
    const { state, duplicated } = await readState(client);
    report.anomalies.duplicated += duplicated;
    const match = allowed.find((c) => equal(c, state));
    if (!match) {
      report.anomalies.noPrefix++;
      classify(allowed[0]!, state, report);
      report.firstFailure ??= `seed ${seed}, cycle ${cycle}: after ${lastRun}`;
    }
    if (cycle === cycles) {
      client.close();
      await node.stop();
      break;
    }
    let committed = match ?? state;
    // Bursts: the first ones settle; the power goes during the last one.
    const bursts = 1 + Math.floor(rnd() * 3);
    let burst: Op[] = [];
    let acked: boolean[] = [];
    for (let b = 0; b < bursts; b++) {
      burst = randomBurst(rnd, 1 + Math.floor(rnd() * 6), nextGen);
      const calls = burst.map((op) =>
        issue(client, op, (removed) => {
          report.snapshotsAcked++;
          report.walSegmentsRemoved += removed;
        }),
      );
      if (b === bursts - 1) {
        // The cut: a random number of event-loop turns into the last burst.
        const turns = Math.floor(rnd() * 12);
        for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
        disk.powerLoss();
      }
      acked = await Promise.all(calls);
      report.opsIssued += burst.length;
      report.opsAcked += acked.filter(Boolean).length;
      if (b < bursts - 1) {
        for (const [i, op] of burst.entries()) if (acked[i]) applyIfValid(committed, op);
        committed = clone(committed);
      }
    }
    client.close();
    await node.stop().catch(() => {});
    disk.restore();
    report.cycles++;
    if (acked.some((ok) => !ok)) report.cutsInFlight++;
    allowed = allowedStates(committed, burst, acked);
    lastRun = JSON.stringify(burst.map((op, i) => ({ ...op, acked: acked[i] })));
  }
  return report;
}

/** A delete or drop of a dataset the model does not hold is refused by the node: no-op. */
function applyIfValid(state: State, op: Op): void {
  if ((op.kind === 'delete' || op.kind === 'drop') && !state.has(op.dataset)) return;
  apply(state, op);
}

if (import.meta.main) {
  const cycles = Number(process.argv[2] ?? 1000);
  const seed = Number(process.argv[3] ?? 1);
  const started = performance.now();
  const report = await runPowerLossLoop(cycles, seed);
  console.log(
    JSON.stringify(
      { ...report, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) },
      null,
      2,
    ),
  );
  const anomalies = Object.values(report.anomalies).reduce((a, b) => a + b, 0);
  process.exit(anomalies === 0 ? 0 : 1);
}
