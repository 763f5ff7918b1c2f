/**
 * Seeded byte-level mutation for fuzz tests of decoders: the same seed gives the same
 * cases on every machine, so a failure names its seed and case and reproduces.
 *
 * The mutations are the classic four — flip a bit, replace a byte, insert a byte, delete a
 * byte — plus replacement by a boundary value (0x00, 0x7f, 0x80, 0xff), which is what turns
 * a length or count field into "zero", "just fits" or "absurd".
 */

/** A deterministic source of numbers in [0, 1) (mulberry32). */
export interface SeededRandom {
  next(): number;
  /** An integer in [0, n). */
  below(n: number): number;
}

/** mulberry32: tiny, fast and good enough to spread mutations; not for cryptography. */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, below: (n) => Math.floor(next() * n) };
}

const BOUNDARY_BYTES = [0x00, 0x7f, 0x80, 0xff] as const;

/** One mutated copy of an input and what was done to it (for failure messages). */
export interface Mutation {
  readonly bytes: Uint8Array;
  readonly description: string;
}

/**
 * A copy of `input` with 1 to `editsMax` random edits. The input is never modified. The
 * copy is a fresh Uint8Array at byte offset 0.
 */
export function mutate(input: Uint8Array, random: SeededRandom, editsMax = 3): Mutation {
  let bytes = Uint8Array.from(input);
  const edits: string[] = [];
  const count = 1 + random.below(editsMax);
  for (let e = 0; e < count; e++) {
    const kind = random.below(5);
    if (bytes.length === 0 || kind === 2) {
      const at = random.below(bytes.length + 1);
      const value = random.below(256);
      const next = new Uint8Array(bytes.length + 1);
      next.set(bytes.subarray(0, at));
      next[at] = value;
      next.set(bytes.subarray(at), at + 1);
      bytes = next;
      edits.push(`insert 0x${value.toString(16)} at ${at}`);
      continue;
    }
    const at = random.below(bytes.length);
    if (kind === 0) {
      const bit = random.below(8);
      bytes[at] = bytes[at]! ^ (1 << bit);
      edits.push(`flip bit ${bit} at ${at}`);
    } else if (kind === 1) {
      const value = random.below(256);
      bytes[at] = value;
      edits.push(`set ${at} to 0x${value.toString(16)}`);
    } else if (kind === 3) {
      bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
      edits.push(`delete ${at}`);
    } else {
      const value = BOUNDARY_BYTES[random.below(BOUNDARY_BYTES.length)]!;
      bytes[at] = value;
      edits.push(`set ${at} to boundary 0x${value.toString(16)}`);
    }
  }
  return { bytes, description: edits.join(', ') };
}

/** Hex of at most `bytesMax` leading bytes, for failure messages. */
export function hexPrefix(bytes: Uint8Array, bytesMax = 64): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, bytesMax)).toString('hex');
  return bytes.length > bytesMax ? `${hex}… (${bytes.length} bytes)` : hex;
}
