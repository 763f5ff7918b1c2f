/**
 * The `longbow` command line.
 *
 *   longbow serve     start a node (configuration from LONGBOW_* environment variables)
 *   longbow help      this text
 *
 * `serve` handles SIGTERM and SIGINT with a graceful shutdown and exits 0; a second signal
 * exits at once. Start-up failures (bad configuration, a corrupt WAL) exit 1 with a JSON
 * log line that names the problem.
 */
import { ConfigError, resolveConfig } from './config.ts';
import { createLogger } from './log.ts';
import { LongbowNode } from './node.ts';
import { WalCorruptionError } from './wal/wal.ts';

const USAGE = `usage: longbow <command>

commands:
  serve   start a Longbow node (configure with LONGBOW_* environment variables;
          see docs/operations.md)
  help    show this text
`;

async function serve(): Promise<void> {
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig();
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
