/**
 * `@longbow/client` — the TypeScript smart client for Longbow. This file is the whole
 * public surface.
 *
 * ```ts
 * import { LongbowClient } from '@longbow/client';
 * const client = new LongbowClient({ seeds: ['10.0.0.7:3000'] });
 * await client.connect();                              // learns the ring (cluster_status)
 * await client.put('docs', schema, [batch]);           // straight to the owner
 * const hits = await client.search('docs', { vector, k: 10 });
 * const rows = await client.scan('docs', { limit: 100 });
 * await client.action('drop_dataset', { dataset: 'docs' });
 * client.close();
 * ```
 * Errors are LongbowClientError with a stable `code` (errors.ts).
 */
export { backoffDelayMs } from './backoff.ts';
export {
  type ClientStats,
  LongbowClient,
  type LongbowClientOptions,
  type PutAck,
  parseForwardRequired,
  type ScanQuery,
  type SearchQuery,
} from './client.ts';
export { type ClientClock, realClock } from './clock.ts';
export { ClientErrorCode, fromServiceError, LongbowClientError } from './errors.ts';
export { type ClusterStatusAnswer, ClusterView } from './view.ts';
