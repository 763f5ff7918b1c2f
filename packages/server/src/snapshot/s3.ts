/**
 * Snapshots in S3 (or any S3-compatible server): key `{prefix}/snapshots/{dataset}.parquet`
 * in `LONGBOW_S3_BUCKET`.
 *
 * A snapshot is made current by one upload of the final key: a PutObject when it fits in
 * one part, else a multipart upload (`@aws-sdk/lib-storage`'s Upload: parts of `partBytes`,
 * four in flight). Either way S3 makes the object visible whole or not at all — a multipart
 * object only at CompleteMultipartUpload — so an interrupted upload leaves the previous
 * snapshot current, and a failed multipart upload is aborted so its parts are not kept.
 * Multipart lifts PutObject's 5 GiB ceiling (S3 allows 10,000 parts of 5 MiB–5 GiB) and
 * retries a failed part instead of the whole file.
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
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
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
  /**
   * Called after every S3 request the backend makes (multipart parts included), with the
   * SDK command name (`PutObject`, `UploadPart`, `GetObject`, …) and whether it succeeded
   * after the SDK's own retries: `longbow_s3_requests_total`.
   */
  onRequest?: (operation: string, ok: boolean) => void;
  /**
   * Part size of multipart uploads, bytes; a file up to this size is one PutObject.
   * Default {@link S3_PART_BYTES_DEFAULT}; S3 takes 5 MiB to 5 GiB.
   */
  partBytes?: number;
}

/** Default multipart part size: 64 MiB (a 640 GB file at S3's 10,000-part limit). */
export const S3_PART_BYTES_DEFAULT = 64 * 1024 * 1024;
/** Smallest part S3 accepts (all but the last part): 5 MiB. */
export const S3_PART_BYTES_MIN = 5 * 1024 * 1024;
/** Largest part S3 accepts: 5 GiB. */
export const S3_PART_BYTES_MAX = 5 * 1024 * 1024 * 1024;

/** Snapshot objects under one bucket and prefix. */
export class S3SnapshotBackend implements SnapshotBackend {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly partBytes: number;

  constructor(settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint || undefined,
      forcePathStyle: settings.usePathStyle,
      maxAttempts: settings.maxAttempts ?? 3,
    });
    const onRequest = settings.onRequest;
    if (onRequest) {
      // One middleware at the outermost step sees each command once, after retries.
      this.client.middlewareStack.add(
        (next, context) => async (args) => {
          const operation =
            (context as { commandName?: string }).commandName?.replace(/Command$/, '') ?? 'unknown';
          try {
            const out = await next(args);
            onRequest(operation, true);
            return out;
          } catch (err) {
            onRequest(operation, false);
            throw err;
          }
        },
        { step: 'initialize', name: 'longbowRequestMetrics' },
      );
    }
    this.bucket = settings.bucket;
    this.partBytes = settings.partBytes ?? S3_PART_BYTES_DEFAULT;
    if (!(this.partBytes >= S3_PART_BYTES_MIN && this.partBytes <= S3_PART_BYTES_MAX))
      throw new RangeError(`S3 part size must be 5 MiB to 5 GiB, got ${this.partBytes} bytes`);
    const prefix = settings.prefix.replace(/^\/+|\/+$/g, '');
    this.keyPrefix = prefix ? `${prefix}/snapshots/` : 'snapshots/';
  }

  private keyOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
    return this.keyPrefix + fileNameOf(dataset, file);
  }

  locationOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
    return `s3://${this.bucket}/${this.keyOf(dataset, file)}`;
  }

  /** Uploads one file: a PutObject up to `partBytes`, else a multipart upload (see above). */
  async put(dataset: string, bytes: Uint8Array, file: SnapshotFile = 'snapshot'): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.keyOf(dataset, file),
        Body: bytes,
        ContentType: file === 'index' ? 'application/octet-stream' : 'application/vnd.apache.parquet',
      },
      partSize: this.partBytes,
      queueSize: 4,
      leavePartsOnError: false,
    });
    await upload.done();
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
