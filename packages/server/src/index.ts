/**
 * @longbow/server — the Longbow node. Embedders and tests start one with
 * `LongbowNode.start(resolveConfig(env, overrides))`.
 */
export {
  ConfigError,
  defaultConfig,
  type NodeConfig,
  parseBytes,
  parseDurationMs,
  resolveConfig,
} from './config.ts';
export { ErrorCode, LongbowError } from './errors.ts';
export { LongbowNode, type NodePorts } from './node.ts';
export { WalCorruptionError } from './wal/wal.ts';
