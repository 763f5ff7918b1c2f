/**
 * The storage seam: every byte the WAL and local snapshots put on disk goes through a
 * {@link FileLayer}, so tests can swap in one that fails, cuts writes short or forgets
 * what was never fsynced (test/fixtures/sim-file-layer.ts), and so the durability rules
 * are written once.
 *
 * Durability contract (POSIX, as the WAL and snapshots rely on it):
 * - bytes written to a file survive a crash of the machine only once `datasync` or `sync`
 *   on that file has resolved;
 * - a created, renamed or removed directory entry survives only once `syncDir` on its
 *   directory has resolved;
 * - after a failed `datasync`/`sync` nothing about the file's unsynced bytes is known (the
 *   kernel may have dropped the dirty pages: PostgreSQL's "fsyncgate", 2018), so callers
 *   never retry it and treat the file as lost past its last good sync.
 *
 * Errors are Node's `ErrnoException`s (`code` ENOENT, ENOSPC, EIO, …), unchanged.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';

/** An open file. Offsets are the file's own (append mode writes at the end). */
export interface StorageFile {
  /**
   * Writes the buffers in order with one vectored write; resolves to the bytes written,
   * which may be fewer than asked (a short write: the caller decides what that means).
   */
  writev(buffers: readonly Uint8Array[]): Promise<number>;
  /** fdatasync(2): the file's data (and the size) is durable once this resolves. */
  datasync(): Promise<void>;
  /** fsync(2): data and metadata are durable once this resolves. */
  sync(): Promise<void>;
  /** Cuts the file to `lengthBytes`. */
  truncate(lengthBytes: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * How {@link FileLayer.open} opens a file: `append` creates it if missing and writes at
 * the end; `create` creates or empties it; `update` opens an existing file for writing.
 */
export type OpenMode = 'append' | 'create' | 'update';

/** The file operations Longbow's storage uses. Paths are absolute or cwd-relative. */
export interface FileLayer {
  /** Opens a file for writing (mode 0644 when created). */
  open(file: string, mode: OpenMode): Promise<StorageFile>;
  /** The whole file. Rejects with ENOENT when it does not exist. */
  readFile(file: string): Promise<Uint8Array>;
  /** Names in a directory (unsorted). Rejects with ENOENT when it does not exist. */
  readdir(dir: string): Promise<string[]>;
  /** Creates a directory and its parents; no error when it exists. */
  mkdir(dir: string): Promise<void>;
  /** Renames atomically (replacing `to`); durable after `syncDir`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; no error when it does not exist. Durable after `syncDir`. */
  rm(file: string): Promise<void>;
  /** True when the file exists. */
  exists(file: string): Promise<boolean>;
  /** fsyncs a directory, so entries created, renamed or removed in it survive a crash. */
  syncDir(dir: string): Promise<void>;
}

const OPEN_FLAGS: Record<OpenMode, number> = {
  append: fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND,
  create: fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC,
  update: fsConstants.O_WRONLY,
};

/** A real file: a thin wrapper over a `FileHandle`. */
class NodeFile implements StorageFile {
  private readonly fh: fs.FileHandle;
  constructor(fh: fs.FileHandle) {
    this.fh = fh;
  }
  async writev(buffers: readonly Uint8Array[]): Promise<number> {
    const { bytesWritten } = await this.fh.writev(buffers as Uint8Array[]);
    return bytesWritten;
  }
  datasync(): Promise<void> {
    return this.fh.datasync();
  }
  sync(): Promise<void> {
    return this.fh.sync();
  }
  truncate(lengthBytes: number): Promise<void> {
    return this.fh.truncate(lengthBytes);
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The real file system (node:fs/promises). */
export const nodeFileLayer: FileLayer = {
  async open(file, mode) {
    return new NodeFile(await fs.open(file, OPEN_FLAGS[mode], 0o644));
  },
  readFile: (file) => fs.readFile(file),
  readdir: (dir) => fs.readdir(dir),
  async mkdir(dir) {
    await fs.mkdir(dir, { recursive: true });
  },
  rename: (from, to) => fs.rename(from, to),
  rm: (file) => fs.rm(file, { force: true }),
  async exists(file) {
    try {
      await fs.access(file);
      return true;
    } catch {
      return false;
    }
  },
  async syncDir(dir) {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/** True when `err` is a Node errno error with this code. */
export function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
