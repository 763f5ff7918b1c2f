/**
 * JSON logs (pino): one object per line on stdout with `level`, `time` (ISO 8601), `node`
 * and `msg`, ready for any log collector.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Creates the node's logger. */
export function createLogger(nodeId: string, level: string): Logger {
  return pino({
    level,
    base: { node: nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
