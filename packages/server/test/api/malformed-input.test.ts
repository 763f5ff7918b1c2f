/**
 * An in-process node under malformed input on every data-path method: seeded mutations
 * and cuts of DoPut and DoExchange FlightData (protobuf bytes, IPC header, IPC body),
 * DoGet tickets and DoAction bodies, sent as raw bytes through a real gRPC client. Each
 * call must succeed or fail with the gRPC status its error code maps to, the code leading
 * the details (`CODE: message`) and never INTERNAL; afterwards the node still serves, and
 * the rows acknowledged before the fuzzing are all there.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  ActionCodec,
  DescriptorType,
  encodeFlightData,
  FlightClient,
  type FlightData,
  FlightServiceDefinition,
  IpcEncoder,
  pathDescriptor,
  TicketCodec,
} from '@longbow/flight';
import { type Mutation, mutate, type SeededRandom, seededRandom } from '@longbow/testkit';
import { Field, FixedSizeList, Float32, Int64, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import pino from 'pino';
import { ErrorCode, grpcStatusOf } from '../../src/errors.ts';
import { LongbowNode } from '../../src/node.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';

const SEED = 0xbad_1a7a;
const DIM = 4;
const BASELINE = 'baseline';
const BASELINE_ROWS = 40;
/** Per-call deadline: a hung call ends DEADLINE_EXCEEDED, which the status check rejects. */
const CALL_DEADLINE_MS = 20_000;

const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const SCHEMA = new Schema([new Field('id', new Int64(), false), new Field('vector', VECTOR, false)]);
const QUERY_SCHEMA = new Schema([new Field('vector', VECTOR, false)]);

function vectors(first: number, rows: number): Float32Array {
  return Float32Array.from({ length: rows * DIM }, (_, k) =>
    Math.sin((first + Math.floor(k / DIM)) * 7 + (k % DIM)),
  );
}

function rowsBatch(first: number, rows: number): RecordBatch {
  const children = [
    makeData({
      type: new Int64(),
      length: rows,
      data: BigInt64Array.from({ length: rows }, (_, i) => BigInt(first + i)),
    }),
    makeData({
      type: VECTOR,
      length: rows,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: rows * DIM, data: vectors(first, rows) }),
    }),
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: rows, nullCount: 0, children }),
  );
}

function queryBatch(rows: number): RecordBatch {
  const child = makeData({
    type: VECTOR,
    length: rows,
    nullCount: 0,
    child: makeData({ type: new Float32(), length: rows * DIM, data: vectors(3, rows) }),
  });
  return new RecordBatch(
    QUERY_SCHEMA,
    makeData({ type: new Struct(QUERY_SCHEMA.fields), length: rows, nullCount: 0, children: [child] }),
  );
}

/** A valid stream: the schema message (carrying `descriptor`) then the batches' messages. */
function stream(
  schema: Schema,
  descriptor: FlightData['flightDescriptor'],
  batches: RecordBatch[],
): FlightData[] {
  const enc = new IpcEncoder(schema);
  return [
    { ...enc.schemaMessage(), flightDescriptor: descriptor },
    ...batches.flatMap((b) => enc.batchMessages(b)),
  ];
}

const flat = (body: FlightData['dataBody']): Uint8Array =>
  !body ? new Uint8Array(0) : body instanceof Uint8Array ? body : Buffer.concat(body);

/**
 * The stream's encoded messages with one of them damaged at one of three depths: its
 * protobuf bytes, its IPC header or its IPC body (mutated, or cut at a random offset).
 */
function damagedStream(
  messages: FlightData[],
  random: SeededRandom,
  i: number,
): { wire: Buffer[]; what: string } {
  const index = random.below(messages.length);
  const wire = messages.map((m) => encodeFlightData(m));
  const m = messages[index]!;
  const damage = (bytes: Uint8Array): Mutation =>
    random.below(4) === 0
      ? { bytes: bytes.subarray(0, random.below(bytes.length + 1)), description: 'cut' }
      : mutate(bytes, random);
  const depth = (['protobuf', 'header', 'body'] as const)[i % 3]!;
  let d: Mutation;
  if (depth === 'protobuf') {
    d = damage(wire[index]!);
    wire[index] = Buffer.from(d.bytes);
  } else if (depth === 'header') {
    d = damage(m.dataHeader ?? new Uint8Array(0));
    wire[index] = encodeFlightData({ ...m, dataHeader: d.bytes, dataBody: flat(m.dataBody) });
  } else {
    d = damage(flat(m.dataBody));
    wire[index] = encodeFlightData({ ...m, dataBody: d.bytes });
  }
  return { wire, what: `seed ${SEED} case ${i}: message ${index} ${depth} ${d.description}` };
}

// A client that sends request bytes as given, so malformed protobuf reaches the server.
const RawClient = grpc.makeGenericClientConstructor(
  Object.fromEntries(
    Object.entries(FlightServiceDefinition).map(([name, m]) => [
      name,
      { ...m, requestSerialize: (b: Buffer) => b },
    ]),
  ),
  'FlightService',
);
type RawMethod = (
  ...args: unknown[]
) => grpc.ClientReadableStream<unknown> & grpc.ClientDuplexStream<Buffer, unknown>;
type Raw = grpc.Client & Record<'DoPut' | 'DoExchange' | 'DoGet' | 'DoAction', RawMethod>;

type Outcome = { ok: true; responseCount: number } | { ok: false; code: grpc.status; details: string };

/** Runs one call to its status; `write` sends the request messages of a streaming call. */
function settle(call: grpc.ClientReadableStream<unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    let responseCount = 0;
    call.on('data', () => responseCount++);
    call.on('error', () => {}); // the status below carries the same facts
    call.on('status', (s: grpc.StatusObject) =>
      resolve(
        s.code === grpc.status.OK
          ? { ok: true, responseCount }
          : { ok: false, code: s.code, details: s.details },
      ),
    );
  });
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** A failed call must carry a catalogued code other than INTERNAL, with its mapped status. */
function assertTypedOutcome(outcome: Outcome, what: string): void {
  if (outcome.ok) return;
  const code = /^([A-Z_]+): /.exec(outcome.details)?.[1];
  assert.ok(
    code && KNOWN_CODES.has(code),
    `${what}: status ${grpc.status[outcome.code]} without an error code: ${outcome.details}`,
  );
  assert.notEqual(code, ErrorCode.internal, `${what}: ${outcome.details}`);
  assert.equal(outcome.code, grpcStatusOf(code as ErrorCode), `${what}: ${outcome.details}`);
}

let root: string;
let node: LongbowNode;
let client: FlightClient;
let raw: Raw;

const deadline = () => ({ deadline: Date.now() + CALL_DEADLINE_MS });

async function scanCount(dataset: string): Promise<number> {
  return (await client.doGetTable(JSON.stringify({ dataset }))).numRows;
}

/** The node answers, and every baseline row acknowledged in `before` is still there. */
async function assertServing(): Promise<void> {
  assert.equal(await scanCount(BASELINE), BASELINE_ROWS);
}

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-malformed-'));
  node = await LongbowNode.start(testNodeConfig(root, { nodeId: 'malformed' }), pino({ level: 'silent' }));
  client = new FlightClient(node.dataAddress());
  raw = new RawClient(node.dataAddress(), grpc.credentials.createInsecure()) as unknown as Raw;
  const acks = await client.doPut(pathDescriptor(BASELINE), SCHEMA, [
    rowsBatch(0, BASELINE_ROWS / 2),
    rowsBatch(BASELINE_ROWS / 2, BASELINE_ROWS / 2),
  ]);
  assert.equal(acks.length, 2);
  await client.doPut(pathDescriptor('victim'), SCHEMA, [rowsBatch(0, 10)]);
});

after(async () => {
  raw?.close();
  client?.close();
  await node?.stop();
  await fs.rm(root, { recursive: true, force: true });
});

async function streamCall(method: 'DoPut' | 'DoExchange', wire: Buffer[]): Promise<Outcome> {
  const call = raw[method](new grpc.Metadata(), deadline());
  const outcome = settle(call);
  for (const bytes of wire) call.write(bytes);
  call.end();
  return outcome;
}

describe('node under malformed Flight input', () => {
  it('DoPut: 150 damaged streams each fail with a typed status or succeed', async () => {
    const random = seededRandom(SEED);
    const messages = stream(SCHEMA, pathDescriptor('fuzzput'), [rowsBatch(1000, 8), rowsBatch(1008, 8)]);
    const failures = new Map<string, number>();
    for (let i = 0; i < 150; i++) {
      const { wire, what } = damagedStream(messages, random, i);
      const outcome = await streamCall('DoPut', wire);
      assertTypedOutcome(outcome, `DoPut ${what}`);
      if (!outcome.ok) {
        const code = outcome.details.slice(0, outcome.details.indexOf(':'));
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    }
    // The damage reached both decoders, not only the first check on the way.
    assert.ok(failures.has(ErrorCode.malformedProtobuf), JSON.stringify([...failures]));
    assert.ok(failures.has(ErrorCode.malformedIpc), JSON.stringify([...failures]));
    await assertServing();
  });

  it('DoExchange: 100 damaged search streams each fail with a typed status or succeed', async () => {
    const random = seededRandom(SEED + 1);
    const cmd = Buffer.from(JSON.stringify({ search: { dataset: BASELINE, k: 3 } }));
    const messages = stream(QUERY_SCHEMA, { type: DescriptorType.cmd, cmd }, [queryBatch(2)]);
    for (let i = 0; i < 100; i++) {
      const { wire, what } = damagedStream(messages, random, i);
      assertTypedOutcome(await streamCall('DoExchange', wire), `DoExchange ${what}`);
    }
    await assertServing();
  });

  it('DoGet: 150 damaged tickets (JSON and protobuf) each fail with a typed status or succeed', async () => {
    const random = seededRandom(SEED + 2);
    const tickets = [
      JSON.stringify({ dataset: BASELINE, limit: 5 }),
      JSON.stringify({ search: { dataset: BASELINE, vector: [...vectors(1, 1)], k: 3 } }),
    ].map((t) => Buffer.from(t));
    for (let i = 0; i < 150; i++) {
      const json = tickets[i % tickets.length]!;
      const inJson = i % 3 !== 0;
      const m = mutate(inJson ? json : TicketCodec.encode({ ticket: json }), random);
      const request = inJson ? TicketCodec.encode({ ticket: m.bytes }) : Buffer.from(m.bytes);
      const outcome = await settle(raw.DoGet(request, new grpc.Metadata(), deadline()));
      assertTypedOutcome(
        outcome,
        `DoGet seed ${SEED + 2} case ${i}: ${inJson ? 'json' : 'protobuf'} ${m.description}`,
      );
    }
    await assertServing();
  });

  it('DoAction: 100 damaged action bodies and actions each fail with a typed status or succeed', async () => {
    const random = seededRandom(SEED + 3);
    // Read-only actions, and a delete aimed at a dataset the baseline check does not count.
    const actions = [
      { type: 'get_stats', body: Buffer.from(JSON.stringify({ dataset: BASELINE })) },
      { type: 'check_readiness', body: Buffer.from('{}') },
      { type: 'delete', body: Buffer.from(JSON.stringify({ dataset: 'victim', ids: [1, 2] })) },
    ];
    for (let i = 0; i < 100; i++) {
      const action = actions[i % actions.length]!;
      const inBody = i % 4 !== 0;
      const m = mutate(inBody ? action.body : ActionCodec.encode(action), random);
      const request = inBody
        ? ActionCodec.encode({ type: action.type, body: m.bytes })
        : Buffer.from(m.bytes);
      const outcome = await settle(raw.DoAction(request, new grpc.Metadata(), deadline()));
      assertTypedOutcome(
        outcome,
        `DoAction seed ${SEED + 3} case ${i}: ${action.type} ${inBody ? 'body' : 'protobuf'} ${m.description}`,
      );
    }
    await assertServing();
  });

  it('still ingests and scans with the correct row count, the baseline intact', async () => {
    const acks = await client.doPut(pathDescriptor('after'), SCHEMA, [rowsBatch(0, 25)]);
    assert.deepEqual(
      acks.map((a) => JSON.parse(Buffer.from(a.appMetadata!).toString()).rows),
      [25],
    );
    assert.equal(await scanCount('after'), 25);
    await assertServing();
  });

  it('regression: a request that is not protobuf fails INVALID_ARGUMENT MALFORMED_PROTOBUF, not INTERNAL', async () => {
    // FlightData whose data_header length runs past the end of the message.
    const outcome = await streamCall('DoPut', [Buffer.from([0x12, 0x05, 0x01])]);
    assert.ok(!outcome.ok);
    assert.equal(outcome.code, grpc.status.INVALID_ARGUMENT);
    assert.match(outcome.details, /^MALFORMED_PROTOBUF: DoPut request: length 5 runs past the end/);
    const ticket = await settle(raw.DoGet(Buffer.from([0x0f]), new grpc.Metadata(), deadline()));
    assert.ok(!ticket.ok);
    assert.match(ticket.details, /^MALFORMED_PROTOBUF: DoGet request: .*wire type 7/);
  });
});
