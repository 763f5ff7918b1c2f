/**
 * Snapshots on a real S3-compatible server (MinIO on loopback, built by setup-minio.sh):
 * the object key layout, a restart from S3 alone after the local disk is wiped, an outage
 * in the middle of a snapshot (the previous object stays current, the node retries on its
 * own), query_analytics over an S3 snapshot, and multipart uploads of files larger than
 * the part size.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { FlightClient, pathDescriptor } from '@longbow/flight';
import {
  Field,
  FixedSizeList,
  Float32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import pino from 'pino';
import type { NodeConfig } from '../../src/config.ts';
import { LongbowNode } from '../../src/node.ts';
import { decodeParquet } from '../../src/snapshot/parquet.ts';
import { S3_PART_BYTES_MIN, S3SnapshotBackend } from '../../src/snapshot/s3.ts';
import { testNodeConfig } from '../fixtures/node-config.ts';
import { MINIO_PASSWORD, MINIO_USER, MinioServer } from './minio.ts';

const DIM = 4;
const BUCKET = 'longbow-snapshots';
const PREFIX = 'cluster-a/node-0';
const VECTOR = new FixedSizeList(DIM, new Field('item', new Float32(), false));
const SCHEMA = new Schema([
  new Field('id', new Int64(), false),
  new Field('vector', VECTOR, false),
  new Field('label', new Utf8(), true),
]);

function vectorOf(id: number): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.fround(Math.cos(id * 3 + j)));
}

function batch(from: number, to: number): RecordBatch {
  const ids = Array.from({ length: to - from }, (_, i) => from + i);
  const values = Float32Array.from(ids.flatMap(vectorOf));
  const children = [
    makeData({ type: new Int64(), length: ids.length, data: BigInt64Array.from(ids, BigInt) }),
    makeData({
      type: VECTOR,
      length: ids.length,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: values.length, data: values }),
    }),
    vectorFromArray(
      ids.map((id) => `label-${id % 7}`),
      new Utf8(),
    ).data[0]!,
  ];
  return new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: ids.length, nullCount: 0, children }),
  );
}

let root: string;
let minio: MinioServer;
let s3: S3Client;
let node: LongbowNode | undefined;
let client: FlightClient;

function config(): NodeConfig {
  return testNodeConfig(root, {
    snapshotPath: path.join(root, 'unused-local-snapshots'),
    storageBackend: 's3',
    s3Bucket: BUCKET,
    s3Prefix: PREFIX,
    s3Region: 'us-east-1',
    s3Endpoint: minio.endpoint,
    s3UsePathStyle: true,
    nodeId: 's3-test',
  });
}

async function start(): Promise<void> {
  node = await LongbowNode.start(config(), pino({ level: 'silent' }));
  client = new FlightClient(node.dataAddress());
}

async function stop(): Promise<void> {
  client.close();
  await node?.stop();
  node = undefined;
}

async function scanIds(dataset: string): Promise<number[]> {
  const t = await client.doGetTable(JSON.stringify({ dataset, columns: ['id'] }));
  return [...t.getChild('id')!].map(Number).sort((a, b) => a - b);
}

async function objectLsn(dataset: string): Promise<string | undefined> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/snapshots/${dataset}.parquet` }),
  );
  const { keyValues } = decodeParquet(await out.Body!.transformToByteArray());
  return keyValues.get('longbow.lsn');
}

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-s3-'));
  process.env.AWS_ACCESS_KEY_ID = MINIO_USER;
  process.env.AWS_SECRET_ACCESS_KEY = MINIO_PASSWORD;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  minio = await MinioServer.create(path.join(root, 'minio-data'));
  await minio.start();
  s3 = new S3Client({ region: 'us-east-1', endpoint: minio.endpoint, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await start();
});

after(async () => {
  await stop();
  s3?.destroy();
  await minio?.kill();
  await fs.rm(root, { recursive: true, force: true });
});

describe('snapshots on S3 (MinIO)', () => {
  it('force_snapshot uploads {prefix}/snapshots/{dataset}.parquet with the rows', async () => {
    await client.doPut(pathDescriptor('vectors'), SCHEMA, [batch(0, 500), batch(500, 1000)]);
    await client.doActionJson('delete', { dataset: 'vectors', ids: [7, 8, 9] });
    const r = await client.doActionJson<{ lsn: number; datasets: { location: string; rows: number }[] }>(
      'force_snapshot',
      {},
    );
    assert.equal(r.datasets[0]!.location, `s3://${BUCKET}/${PREFIX}/snapshots/vectors.parquet`);
    assert.equal(r.datasets[0]!.rows, 997);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      // The Parquet snapshot and the HNSW index saved beside it.
      [`${PREFIX}/snapshots/vectors.hnsw`, `${PREFIX}/snapshots/vectors.parquet`],
    );
    const out = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/snapshots/vectors.parquet` }),
    );
    const { batches, keyValues } = decodeParquet(await out.Body!.transformToByteArray());
    assert.equal(keyValues.get('longbow.lsn'), String(r.lsn));
    const byId = new Map<number, number[]>();
    for (const b of batches)
      for (let i = 0; i < b.numRows; i++)
        byId.set(Number(b.getChild('id')!.get(i)), [...b.getChild('vector')!.get(i)!]);
    assert.equal(byId.size, 997);
    assert.ok(!byId.has(8));
    assert.deepEqual(byId.get(421), vectorOf(421));
  });

  it('a file larger than the part size goes up as a multipart upload and reads back whole', async () => {
    const requests: string[] = [];
    const backend = new S3SnapshotBackend({
      onRequest: (operation, ok) => requests.push(`${operation}:${ok ? 'ok' : 'error'}`),
      bucket: BUCKET,
      prefix: 'multipart-test',
      region: 'us-east-1',
      endpoint: minio.endpoint,
      usePathStyle: true,
      partBytes: S3_PART_BYTES_MIN,
    });
    try {
      const bytes = new Uint8Array(2 * S3_PART_BYTES_MIN + 12345);
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) & 0xff;
      await backend.put('big', bytes, 'index');
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'multipart-test/snapshots/big.hnsw' }),
      );
      assert.match(head.ETag ?? '', /-3"?$/, 'an S3 multipart ETag ends in -<parts>');
      assert.equal(head.ContentLength, bytes.length);
      assert.deepEqual(await backend.get('big', 'index'), bytes);
      const pending = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
      assert.equal(pending.Uploads?.length ?? 0, 0, 'no multipart upload left open');
      // A file within one part is a plain PutObject (no part count in its ETag).
      await backend.put('small', bytes.subarray(0, 1000), 'index');
      const small = await s3.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'multipart-test/snapshots/small.hnsw' }),
      );
      assert.doesNotMatch(small.ETag ?? '', /-\d+"?$/);
      await backend.delete('big', 'index');
      await backend.delete('small', 'index');
      // Every request is counted once, by SDK command, multipart parts included.
      const count = (r: string) => requests.filter((x) => x === r).length;
      assert.equal(count('CreateMultipartUpload:ok'), 1);
      assert.equal(count('UploadPart:ok'), 3);
      assert.equal(count('CompleteMultipartUpload:ok'), 1);
      assert.equal(count('PutObject:ok'), 1);
      assert.equal(count('GetObject:ok'), 1);
      assert.equal(count('DeleteObject:ok'), 2);
    } finally {
      backend.close();
    }
  });

  it('query_analytics reads the S3 snapshot', async () => {
    const r = await client.doActionJson<{ rows: unknown[] }>('query_analytics', {
      dataset: 'vectors',
      query: 'SELECT label, count(*) AS n FROM vectors GROUP BY label ORDER BY label',
    });
    const counts = new Map<string, number>();
    for (let id = 0; id < 1000; id++) {
      if (id >= 7 && id <= 9) continue;
      counts.set(`label-${id % 7}`, (counts.get(`label-${id % 7}`) ?? 0) + 1);
    }
    assert.deepEqual(
      r.rows,
      [...counts].sort().map(([label, n]) => ({ label, n })),
    );
  });

  it('restarts from S3 alone after the local disk is wiped', async () => {
    await client.doPut(pathDescriptor('vectors'), SCHEMA, [batch(1000, 1100)]);
    await stop(); // the shutdown snapshot uploads the last 100 rows
    await fs.rm(path.join(root, 'wal'), { recursive: true, force: true });
    await start();
    const ids = await scanIds('vectors');
    assert.equal(ids.length, 1097);
    assert.ok(!ids.includes(8) && ids.includes(1099));
    // New writes get LSNs above the snapshot's, so the next restart keeps them.
    await client.doPut(pathDescriptor('vectors'), SCHEMA, [batch(2000, 2010)]);
    node!.ctx.snapshots!.finalSnapshot = async () => {};
    await stop();
    await start();
    assert.equal((await scanIds('vectors')).length, 1107);
  });

  it('an outage mid-snapshot leaves the previous snapshot current, and the node retries', async () => {
    await client.doActionJson('force_snapshot', {});
    const before = await objectLsn('vectors');
    await client.doPut(pathDescriptor('vectors'), SCHEMA, [batch(3000, 33_000)]);
    const walBefore = node!.ctx.wal.sizeBytes();
    const snap = client.doActionJson('force_snapshot', {});
    await minio.kill(); // while the node encodes and uploads
    await assert.rejects(snap, (err: { code: number; details: string }) => {
      assert.equal(err.code, 14); // UNAVAILABLE
      assert.match(err.details, /^SNAPSHOT_FAILED: snapshot failed for "vectors"/);
      return true;
    });
    assert.ok(
      node!.ctx.wal.sizeBytes() >= walBefore,
      'the WAL is not truncated while the snapshot is missing',
    );
    await minio.start();
    assert.equal(await objectLsn('vectors'), before, 'the previous snapshot is still current');
    // The node retries by itself (backoff from 1 s).
    const deadline = Date.now() + 20_000;
    let lsn = before;
    while (lsn === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      lsn = await objectLsn('vectors');
    }
    assert.ok(BigInt(lsn!) > BigInt(before!), `snapshot LSN still ${lsn}`);
    node!.ctx.snapshots!.finalSnapshot = async () => {};
    await stop();
    await fs.rm(path.join(root, 'wal'), { recursive: true, force: true });
    await start();
    assert.equal((await scanIds('vectors')).length, 1107 + 30_000);
  });
});
