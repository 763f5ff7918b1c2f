/**
 * Checks a decoded column against the facts its header claims, before anyone reads it.
 *
 * apache-arrow's loader builds `Data` from whatever field node lengths and buffer regions
 * the header says, and its readers do not check either: a length larger than its buffer
 * reads past the end (undefined, or garbage from a neighbouring buffer of the body), an
 * offset buffer that decreases yields negative-length strings, a dictionary index past the
 * dictionary returns undefined, and `new RecordBatch` "repairs" columns of the wrong length
 * by reallocating (a RangeError when it cannot). This is the subset of Arrow C++'s
 * `ValidateFull` that makes every value of a column addressable: buffer sizes for
 * `offset + length` slots, monotonic in-range offsets, children long enough for their
 * parents, dictionary indices inside their dictionary. Types it cannot check are refused.
 *
 * Source: Arrow columnar format, "Physical Memory Layout".
 */
import { type Data, type DataType, Type } from 'apache-arrow';
import { IpcDecodeError } from '../errors.ts';

function fail(path: string, problem: string): never {
  throw new IpcDecodeError(`column ${path}: ${problem}`);
}

/** Fails unless a buffer holding `have` elements has the `need` its slots require. */
function needElements(path: string, have: number, need: number, what: string): void {
  if (have < need) fail(path, `${what} holds ${have} elements, ${need} needed`);
}

function checkOffsets(data: Data, path: string, limit: number, limitWhat: string): void {
  const offsets = data.valueOffsets as ArrayLike<number | bigint> | undefined;
  const end = data.offset + data.length;
  if (data.length === 0) return;
  if (!offsets) fail(path, 'has no offsets buffer');
  needElements(path, offsets.length, end + 1, 'offsets buffer');
  let previous = Number(offsets[data.offset]!);
  if (previous < 0) fail(path, `first offset ${previous} is negative`);
  for (let i = data.offset + 1; i <= end; i++) {
    const next = Number(offsets[i]!);
    if (next < previous) fail(path, `offsets decrease at slot ${i - 1} (${previous} then ${next})`);
    previous = next;
  }
  if (previous > limit) fail(path, `last offset ${previous} exceeds the ${limit} ${limitWhat}`);
}

function checkDictionary(data: Data, path: string): void {
  const indices = data.values as ArrayLike<number | bigint>;
  needElements(path, indices.length, data.offset + data.length, 'indices buffer');
  const size = data.dictionary?.length ?? 0;
  for (let i = 0; i < data.length; i++) {
    if (data.nullCount > 0 && !data.getValid(i)) continue;
    const index = Number(indices[data.offset + i]!);
    if (!(index >= 0 && index < size))
      fail(path, `index ${index} at row ${i} is outside the ${size}-entry dictionary`);
  }
}

function checkChildren(data: Data, path: string, need: number): void {
  data.children.forEach((child, i) => {
    const name = (data.type as DataType & { children?: { name: string }[] }).children?.[i]?.name ?? String(i);
    if (child.length < need) fail(`${path}.${name}`, `child has ${child.length} rows, ${need} needed`);
    validateData(child, `${path}.${name}`);
  });
}

/**
 * Throws IpcDecodeError unless every slot `data.offset .. data.offset + data.length` of
 * `data` and of its children can be read inside its own buffers.
 *
 * @param path column name for the message (children are appended with dots).
 */
export function validateData(data: Data, path: string): void {
  const end = data.offset + data.length;
  if (!Number.isSafeInteger(end)) fail(path, `length ${data.length} is invalid`);
  if (!Number.isSafeInteger(data.stride) || data.stride < 0)
    fail(path, `type ${data.type} has invalid parameters`);
  if (data.nullBitmap && data.nullBitmap.length > 0) {
    needElements(path, data.nullBitmap.length * 8, end, 'validity bitmap (bits)');
  } else if (data.nullCount > 0 && data.typeId !== Type.Null) {
    fail(path, `claims ${data.nullCount} nulls but has no validity bitmap`);
  }
  switch (data.typeId) {
    case Type.Null:
      return;
    case Type.Dictionary:
      checkDictionary(data, path);
      return;
    case Type.Bool:
      needElements(path, (data.values?.length ?? 0) * 8, end, 'values bitmap (bits)');
      return;
    case Type.Int:
    case Type.Float:
    case Type.Date:
    case Type.Time:
    case Type.Timestamp:
    case Type.Interval:
    case Type.Duration:
    case Type.Decimal:
    case Type.FixedSizeBinary:
      if (data.length === 0) return;
      needElements(path, data.values?.length ?? 0, end * data.stride, 'values buffer');
      return;
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary:
      checkOffsets(data, path, data.values?.length ?? 0, 'bytes of its data buffer');
      return;
    case Type.List:
    case Type.LargeList:
    case Type.Map: {
      const child = data.children[0];
      if (!child) fail(path, 'list without a child');
      checkOffsets(data, path, child.length, 'rows of its child');
      checkChildren(data, path, 0);
      return;
    }
    case Type.FixedSizeList: {
      if (!data.children[0]) fail(path, 'list without a child');
      checkChildren(data, path, end * data.stride);
      return;
    }
    case Type.Struct:
      checkChildren(data, path, end);
      return;
    default:
      fail(path, `Arrow type ${data.type} cannot be validated, so it is not accepted`);
  }
}
