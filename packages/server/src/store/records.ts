/**
 * WAL record payloads (the `record` bytes of an entry, see wal/entry.ts):
 * - put: an Arrow IPC stream holding the batch exactly as the client sent it (after checks);
 * - delete: an Arrow IPC stream of one batch with a single `id` column;
 * - drop_dataset: empty.
 * Bodies are written uncompressed: encoding stays cheap on the ingest path.
 */
import { IpcEncoder, toIpcStream } from '@longbow/flight';
import { type DataType, Field, type RecordBatch, RecordBatchReader, Schema } from 'apache-arrow';
import { batchOf, valuesToData } from './columns.ts';
import type { IdKey } from './dataset.ts';
import { ID_COLUMN } from './schema.ts';

/** Encodes one batch as an IPC stream (schema, dictionaries, batch, end marker). */
export function encodeBatchRecord(batch: RecordBatch): Uint8Array {
  const encoder = new IpcEncoder(batch.schema, 'none');
  return toIpcStream([encoder.schemaMessage(), ...encoder.batchMessages(batch)]);
}

/** Decodes a record written by {@link encodeBatchRecord}; throws when it holds no batch. */
export function decodeBatchRecord(record: Uint8Array): RecordBatch {
  const reader = RecordBatchReader.from(record);
  const batches = [...reader];
  if (batches.length !== 1) throw new Error(`WAL record holds ${batches.length} batches, expected 1`);
  return batches[0]!;
}

/** Encodes the ids of a delete. */
export function encodeDeleteRecord(keys: IdKey[], idType: DataType): Uint8Array {
  const schema = new Schema([new Field(ID_COLUMN, idType, false)]);
  return encodeBatchRecord(batchOf(schema, keys.length, [valuesToData(keys, idType)]));
}

/** Decodes the ids of a delete. */
export function decodeDeleteRecord(record: Uint8Array): IdKey[] {
  const batch = decodeBatchRecord(record);
  return [...batch.getChild(ID_COLUMN)!] as IdKey[];
}
