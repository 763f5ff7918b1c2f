/**
 * `longbow.yaml`: the settings DESIGN.md lists, as a file. Each key maps onto the
 * `LONGBOW_*` variable that sets the same field, so config.ts's table stays the one place
 * that parses and checks values; environment variables win over the file.
 *
 * ```yaml
 * storage:
 *   path: /data                 # LONGBOW_DATA_PATH (the WAL)
 *   snapshot_path: /snapshots   # LONGBOW_SNAPSHOT_PATH
 *   backend: s3                 # LONGBOW_STORAGE_BACKEND
 *   flush_interval_ms: 10       # LONGBOW_WAL_FLUSH_INTERVAL (ms)
 *   max_segment_size: 64MiB     # LONGBOW_WAL_SEGMENT_SIZE
 *   max_wal_size: 100MB         # LONGBOW_MAX_WAL_SIZE
 *   async_fsync: false          # LONGBOW_STORAGE_ASYNC_FSYNC
 *   compression: zstd           # LONGBOW_SNAPSHOT_COMPRESSION
 *   snapshot_interval: 5m       # LONGBOW_SNAPSHOT_INTERVAL
 *   s3:
 *     bucket: my-bucket         # LONGBOW_S3_BUCKET
 *     prefix: prod/node-0       # LONGBOW_S3_PREFIX
 *     region: eu-west-1         # LONGBOW_S3_REGION
 *     endpoint: http://minio:9000   # LONGBOW_S3_ENDPOINT
 *     use_path_style: true      # LONGBOW_S3_USE_PATH_STYLE
 *     part_size: 64MiB          # LONGBOW_S3_PART_SIZE
 * ```
 *
 * The file is `LONGBOW_CONFIG_FILE`, else `longbow.yaml` in the working directory when it
 * exists. Unknown keys are errors (a typo must not be ignored silently).
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from './config.ts';

/** YAML path → environment variable. */
export const YAML_KEYS: Readonly<Record<string, string>> = {
  'storage.path': 'LONGBOW_DATA_PATH',
  'storage.snapshot_path': 'LONGBOW_SNAPSHOT_PATH',
  'storage.backend': 'LONGBOW_STORAGE_BACKEND',
  'storage.flush_interval_ms': 'LONGBOW_WAL_FLUSH_INTERVAL',
  'storage.max_segment_size': 'LONGBOW_WAL_SEGMENT_SIZE',
  'storage.max_wal_size': 'LONGBOW_MAX_WAL_SIZE',
  'storage.async_fsync': 'LONGBOW_STORAGE_ASYNC_FSYNC',
  'storage.compression': 'LONGBOW_SNAPSHOT_COMPRESSION',
  'storage.snapshot_interval': 'LONGBOW_SNAPSHOT_INTERVAL',
  'storage.s3.bucket': 'LONGBOW_S3_BUCKET',
  'storage.s3.prefix': 'LONGBOW_S3_PREFIX',
  'storage.s3.region': 'LONGBOW_S3_REGION',
  'storage.s3.endpoint': 'LONGBOW_S3_ENDPOINT',
  'storage.s3.use_path_style': 'LONGBOW_S3_USE_PATH_STYLE',
  'storage.s3.part_size': 'LONGBOW_S3_PART_SIZE',
};

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
}

/**
 * The YAML text's settings as `LONGBOW_*` variables. Throws {@link ConfigError} (variable
 * `LONGBOW_CONFIG_FILE`) for unparsable YAML, unknown keys or non-scalar values.
 */
export function yamlToEnv(text: string, file = 'longbow.yaml'): Record<string, string> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError('LONGBOW_CONFIG_FILE', `${file} is not valid YAML: ${(err as Error).message}`);
  }
  const flat = new Map<string, unknown>();
  if (doc !== null && doc !== undefined) flatten(doc, '', flat);
  const env: Record<string, string> = {};
  for (const [key, value] of flat) {
    const variable = YAML_KEYS[key];
    if (!variable)
      throw new ConfigError(
        'LONGBOW_CONFIG_FILE',
        `${file}: unknown key "${key}" (known: ${Object.keys(YAML_KEYS).join(', ')})`,
      );
    if (value === null || typeof value === 'object')
      throw new ConfigError('LONGBOW_CONFIG_FILE', `${file}: "${key}" must be a single value`);
    env[variable] = String(value);
  }
  return env;
}

/** Reads the config file (none: `{}`); see the module comment for which file. */
export function readConfigFile(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const file = env.LONGBOW_CONFIG_FILE || 'longbow.yaml';
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !env.LONGBOW_CONFIG_FILE) return {};
    throw new ConfigError('LONGBOW_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`);
  }
  return yamlToEnv(text, file);
}
