/**
 * The `longbow` command line.
 *
 *   longbow serve     start a node (configuration from LONGBOW_* environment variables,
 *                     `.env` and `longbow.yaml`; config-file.ts)
 *   longbow help      this text
 *
 * `serve` handles SIGTERM and SIGINT with a graceful shutdown and exits 0; a second signal
 * exits at once. SIGHUP re-reads `.env` (in the working directory, or `LONGBOW_ENV_FILE`)
 * and applies `LONGBOW_MAX_MEMORY` and `LONGBOW_SNAPSHOT_INTERVAL`; other settings need a
 * restart. At start-up `.env` fills variables the environment does not set. Start-up
 * failures (bad configuration, a corrupt WAL or snapshot) exit 1 with a JSON log line that
 * names the problem.
 */
import fs from 'node:fs';
import util from 'node:util';
import { ConfigError, resolveConfig } from './config.ts';
import { readConfigFile } from './config-file.ts';
import { createLogger } from './log.ts';
import { LongbowNode } from './node.ts';
import { SnapshotCorruptError } from './snapshot/format.ts';
import { WalCorruptionError } from './wal/wal.ts';

const USAGE = `usage: longbow <command>

commands:
  serve   start a Longbow node (configure with LONGBOW_* environment variables;
          see docs/operations.md)
  help    show this text
`;

/** The `.env` file's variables (none when it does not exist). */
function readEnvFile(): Record<string, string> {
  const file = process.env.LONGBOW_ENV_FILE || '.env';
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  return util.parseEnv(text) as Record<string, string>;
}

/**
 * The variables the node runs with. Start-up: the environment over `.env` over
 * `longbow.yaml`. Reload (SIGHUP): `.env` over the environment, so an edited `.env` applies.
 */
function layeredEnv(startEnv: NodeJS.ProcessEnv, reload = false): NodeJS.ProcessEnv {
  const file = readConfigFile(startEnv);
  return reload ? { ...file, ...startEnv, ...readEnvFile() } : { ...file, ...readEnvFile(), ...startEnv };
}

async function serve(): Promise<void> {
  let config: ReturnType<typeof resolveConfig>;
  const startEnv = { ...process.env };
  try {
    config = resolveConfig(layeredEnv(startEnv));
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger('longbow', 'info').fatal(
        { variable: err.variable },
        `invalid configuration: ${err.message}`,
      );
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.nodeId, config.logLevel);
  let node: LongbowNode;
  try {
    node = await LongbowNode.start(config, log);
  } catch (err) {
    if (err instanceof WalCorruptionError) {
      log.fatal({ file: err.file, offset: err.offset }, err.message);
    } else if (err instanceof SnapshotCorruptError) {
      log.fatal({ file: err.file }, err.message);
    } else {
      log.fatal({ err }, `start-up failed: ${(err as Error).message}`);
    }
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (signal: string) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    log.info('Received SIGHUP, reloading configuration');
    try {
      const applied = node.reload(resolveConfig(layeredEnv(startEnv, true)));
      log.info(
        { maxMemoryBytes: applied.maxMemoryBytes, snapshotIntervalMs: applied.snapshotIntervalMs },
        'Configuration reloaded',
      );
    } catch (err) {
      const variable = err instanceof ConfigError ? err.variable : undefined;
      log.error({ err, variable }, `configuration not reloaded: ${(err as Error).message}`);
    }
  });
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

const command = process.argv[2] ?? 'help';
if (command === 'serve') {
  await serve();
} else if (command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(USAGE);
} else {
  process.stderr.write(`longbow: unknown command "${command}"\n\n${USAGE}`);
  process.exit(2);
}
