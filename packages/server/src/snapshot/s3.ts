/**
 * Snapshots in S3 (or any S3-compatible server): key `{prefix}/snapshots/{dataset}.parquet`
 * in `LONGBOW_S3_BUCKET`.
 *
 * A snapshot is made current by one PutObject of the final key: S3 makes an object visible
 * whole or not at all, so an interrupted upload leaves the previous snapshot current.
 * Credentials come from the AWS SDK's default chain (environment, web identity, shared
 * files, instance or container roles) and are never logged.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  fileNameOf,
  type LocalCopy,
  SNAPSHOT_SUFFIX,
  type SnapshotBackend,
  type SnapshotFile,
} from './backend.ts';

/** S3 settings (from NodeConfig). */
export interface S3Settings {
  bucket: string;
  /** Key prefix without leading or trailing `/`; may be empty. */
  prefix: string;
  region: string;
  /** Endpoint URL for S3-compatible servers; empty for AWS. */
  endpoint: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  usePathStyle: boolean;
  /** Attempts per request, including the first (the SDK backs off between them). */
  maxAttempts?: number;
}

/** Snapshot objects under one bucket and prefix. */
export class S3SnapshotBackend implements SnapshotBackend {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;

  constructor(settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint || undefined,
      forcePathStyle: settings.usePathStyle,
      maxAttempts: settings.maxAttempts ?? 3,
    });
    this.bucket = settings.bucket;
    const prefix = settings.prefix.replace(/^\/+|\/+$/g, '');
    this.keyPrefix = prefix ? `${prefix}/snapshots/` : 'snapshots/';
  }

  private keyOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
    return this.keyPrefix + fileNameOf(dataset, file);
  }

  locationOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
    return `s3://${this.bucket}/${this.keyOf(dataset, file)}`;
  }

  async put(dataset: string, bytes: Uint8Array, file: SnapshotFile = 'snapshot'): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.keyOf(dataset, file),
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType: file === 'index' ? 'application/octet-stream' : 'application/vnd.apache.parquet',
      }),
    );
  }

  async get(dataset: string, file: SnapshotFile = 'snapshot'): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(dataset, file) }),
      );
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyPrefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const rest = o.Key?.slice(this.keyPrefix.length) ?? '';
        if (rest.endsWith(SNAPSHOT_SUFFIX) && !rest.includes('/'))
          names.push(rest.slice(0, -SNAPSHOT_SUFFIX.length));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names.sort();
  }

  async delete(dataset: string, file: SnapshotFile = 'snapshot'): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(dataset, file) }));
  }

  /** Downloads the snapshot into a temporary file (DuckDB reads local files only here). */
  async localCopy(dataset: string): Promise<LocalCopy | undefined> {
    const bytes = await this.get(dataset);
    if (!bytes) return undefined;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-analytics-'));
    const file = path.join(dir, `${randomUUID()}.parquet`);
    await fs.writeFile(file, bytes);
    return { path: file, release: () => fs.rm(dir, { recursive: true, force: true }) };
  }

  /** Closes the SDK's connections. */
  close(): void {
    this.client.destroy();
  }
}
