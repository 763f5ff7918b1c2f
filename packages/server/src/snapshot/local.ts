/**
 * Snapshots in a local directory (`LONGBOW_SNAPSHOT_PATH`): `{dir}/{dataset}.parquet`.
 *
 * A new snapshot is written to `.{dataset}.parquet.tmp`, fsynced, renamed over the current
 * file, and the directory is fsynced: a crash at any moment leaves the previous snapshot or
 * the new one current, plus perhaps a temporary file, which `list` removes.
 */
import path from 'node:path';
import { type FileLayer, isErrno, nodeFileLayer } from '../storage/file-layer.ts';
import {
  fileNameOf,
  type LocalCopy,
  SNAPSHOT_SUFFIX,
  type SnapshotBackend,
  type SnapshotFile,
} from './backend.ts';

const TEMP_RE = /^\..+\.parquet\.tmp$/;

/** Snapshot files in one directory. */
export class LocalSnapshotBackend implements SnapshotBackend {
  readonly kind = 'local' as const;
  readonly dir: string;
  private readonly files: FileLayer;

  /** @param files the file layer (storage/file-layer.ts); the real file system by default. */
  constructor(dir: string, files: FileLayer = nodeFileLayer) {
    this.dir = dir;
    this.files = files;
  }

  locationOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
    return path.join(this.dir, fileNameOf(dataset, file));
  }

  async put(dataset: string, bytes: Uint8Array, file: SnapshotFile = 'snapshot'): Promise<void> {
    await this.files.mkdir(this.dir);
    const final = this.locationOf(dataset, file);
    const temp = path.join(this.dir, `.${fileNameOf(dataset, file)}.tmp`);
    const fh = await this.files.open(temp, 'create');
    try {
      let written = 0;
      while (written < bytes.byteLength) {
        const n = await fh.writev([bytes.subarray(written)]);
        if (n <= 0) throw new Error(`snapshot write to ${temp} made no progress at byte ${written}`);
        written += n;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.files.rename(temp, final);
    await this.files.syncDir(this.dir);
  }

  async get(dataset: string, file: SnapshotFile = 'snapshot'): Promise<Uint8Array | undefined> {
    try {
      return await this.files.readFile(this.locationOf(dataset, file));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.files.readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    for (const n of names.filter((n) => TEMP_RE.test(n))) await this.files.rm(path.join(this.dir, n));
    return names
      .filter((n) => n.endsWith(SNAPSHOT_SUFFIX) && !n.startsWith('.'))
      .map((n) => n.slice(0, -SNAPSHOT_SUFFIX.length))
      .sort();
  }

  async delete(dataset: string, file: SnapshotFile = 'snapshot'): Promise<void> {
    await this.files.rm(this.locationOf(dataset, file));
    await this.files.syncDir(this.dir).catch(() => {});
  }

  async localCopy(dataset: string): Promise<LocalCopy | undefined> {
    const file = this.locationOf(dataset);
    if (!(await this.files.exists(file))) return undefined;
    return { path: file, release: async () => {} };
  }
}
