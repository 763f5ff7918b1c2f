/**
 * File-system durability shared by the WAL and local snapshots. POSIX makes a created,
 * renamed or deleted directory entry durable only once the directory itself is fsynced.
 */
import fs from 'node:fs/promises';

/** fsyncs a directory, so the entries created, renamed or removed in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
