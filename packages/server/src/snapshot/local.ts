/**
 * Snapshots in a local directory (`LONGBOW_SNAPSHOT_PATH`): `{dir}/{dataset}.parquet`.
 *
 * A new snapshot is written to `.{dataset}.parquet.tmp`, fsynced, renamed over the current
 * file, and the directory is fsynced: a crash at any moment leaves the previous snapshot or
 * the new one current, plus perhaps a temporary file, which `list` removes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { syncDir } from '../durable-fs.ts';
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

  constructor(dir: string) {
    this.dir = dir;
  }

  locationOf(dataset: string, file: SnapshotFile = 'snapshot'): string {
    return path.join(this.dir, fileNameOf(dataset, file));
  }

  async put(dataset: string, bytes: Uint8Array, file: SnapshotFile = 'snapshot'): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const final = this.locationOf(dataset, file);
    const temp = path.join(this.dir, `.${fileNameOf(dataset, file)}.tmp`);
    const fh = await fs.open(temp, 'w', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(temp, final);
    await syncDir(this.dir);
  }

  async get(dataset: string, file: SnapshotFile = 'snapshot'): Promise<Uint8Array | undefined> {
    try {
      return await fs.readFile(this.locationOf(dataset, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    for (const n of names.filter((n) => TEMP_RE.test(n)))
      await fs.rm(path.join(this.dir, n), { force: true });
    return names
      .filter((n) => n.endsWith(SNAPSHOT_SUFFIX) && !n.startsWith('.'))
      .map((n) => n.slice(0, -SNAPSHOT_SUFFIX.length))
      .sort();
  }

  async delete(dataset: string, file: SnapshotFile = 'snapshot'): Promise<void> {
    await fs.rm(this.locationOf(dataset, file), { force: true });
    await syncDir(this.dir).catch(() => {});
  }

  async localCopy(dataset: string): Promise<LocalCopy | undefined> {
    const file = this.locationOf(dataset);
    try {
      await fs.access(file);
    } catch {
      return undefined;
    }
    return { path: file, release: async () => {} };
  }
}
