/**
 * longbow.yaml: keys map onto the LONGBOW_* variables and go through the same parsing and
 * checks; unknown keys and bad YAML are errors naming LONGBOW_CONFIG_FILE.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type ConfigError, resolveConfig } from '../src/config.ts';
import { readConfigFile, yamlToEnv } from '../src/config-file.ts';

const YAML = `
storage:
  path: /var/lib/longbow/wal
  flush_interval_ms: 25
  max_segment_size: 8MiB
  compression: snappy
  snapshot_interval: 1h
  s3:
    bucket: snaps
    prefix: prod/node-0
    endpoint: http://127.0.0.1:9000
    use_path_style: true
`;

describe('longbow.yaml', () => {
  it('sets the documented fields through the LONGBOW_* table', () => {
    const cfg = resolveConfig({ ...yamlToEnv(YAML), LONGBOW_STORAGE_BACKEND: 's3' });
    assert.equal(cfg.dataPath, '/var/lib/longbow/wal');
    assert.equal(cfg.walFlushIntervalMs, 25);
    assert.equal(cfg.walSegmentBytes, 8 * 1024 * 1024);
    assert.equal(cfg.snapshotCompression, 'snappy');
    assert.equal(cfg.snapshotIntervalMs, 3_600_000);
    assert.equal(cfg.s3Bucket, 'snaps');
    assert.equal(cfg.s3Prefix, 'prod/node-0');
    assert.equal(cfg.s3Endpoint, 'http://127.0.0.1:9000');
    assert.equal(cfg.s3UsePathStyle, true);
  });

  it('loses to environment variables', () => {
    const cfg = resolveConfig({ ...yamlToEnv(YAML), LONGBOW_DATA_PATH: '/fast' });
    assert.equal(cfg.dataPath, '/fast');
  });

  it('rejects unknown keys, bad values and bad YAML, naming the file', () => {
    assert.throws(
      () => yamlToEnv('storage:\n  pth: /x\n'),
      (e: ConfigError) => {
        assert.equal(e.variable, 'LONGBOW_CONFIG_FILE');
        assert.match(e.message, /unknown key "storage.pth"/);
        return true;
      },
    );
    assert.throws(() => yamlToEnv('storage: [1, 2'), /not valid YAML/);
    assert.throws(
      () => resolveConfig(yamlToEnv('storage:\n  compression: lz77\n')),
      /LONGBOW_SNAPSHOT_COMPRESSION/,
    );
    assert.throws(() => resolveConfig({ LONGBOW_STORAGE_BACKEND: 's3' }), /LONGBOW_S3_BUCKET: must be set/);
    assert.equal(resolveConfig({ LONGBOW_S3_PART_SIZE: '8MiB' }).s3PartBytes, 8 * 1024 * 1024);
    assert.throws(
      () => resolveConfig({ LONGBOW_S3_PART_SIZE: '1MiB' }),
      /LONGBOW_S3_PART_SIZE: must be between 5MiB and 5GiB/,
    );
  });

  it('reads LONGBOW_CONFIG_FILE, and an explicitly named missing file is an error', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'longbow-yaml-'));
    const file = path.join(dir, 'longbow.yaml');
    await fs.writeFile(file, YAML);
    assert.equal(readConfigFile({ LONGBOW_CONFIG_FILE: file }).LONGBOW_S3_BUCKET, 'snaps');
    assert.throws(() => readConfigFile({ LONGBOW_CONFIG_FILE: path.join(dir, 'nope.yaml') }), /cannot read/);
    await fs.rm(dir, { recursive: true });
  });
});
