import { StorageError } from '../errors.ts';

/**
 * The state of an appendable object (upload data) on S3, and the keys of its pieces.
 *
 * S3 cannot append, so an appendable object at key K is stored as pieces under `K/`:
 *   K/p/<index>.<writer>   full parts, exactly `partSize` bytes each, the i-th covering [i·P, (i+1)·P)
 *   K/t/<start>.<writer>   tail pieces: the bytes after the last full part (less than one part);
 *                          the one piece of an object written whole by one append may instead
 *                          live at the home its caller named (a blob's key), recorded in the state
 *   K/s/<offset>           steps: what the append that started at <offset> changed, written
 *                          create-only (If-None-Match: *), so one append per offset wins
 *   K                      the pointer: the whole state as of some step, for cheap reads
 *
 * The steps are the truth: the current state is the pointer's, rolled forward through every step
 * that exists at its size. The pointer may lag (its writer crashed, or a slower writer's pointer
 * landed late) but never leads. Pieces are immutable and carry their writer's random id, so two
 * replicas racing at one offset never overwrite each other's bytes; the loser's pieces are garbage.
 */

/** Full parts written by one append: `count` parts, named with `writer`. */
export interface Run {
  writer: string;
  count: number;
}

/** Bytes of the tail stored as one object. */
export interface TailPiece {
  writer: string;
  /** Offset of its first byte in the appendable object. */
  start: number;
  size: number;
  /**
   * Where it is stored when not under the object's own prefix: the home the caller gave an
   * append that held the whole object in one piece (`AppendOptions.label`). Never deleted as part
   * of the object: it belongs to its home.
   */
  key?: string;
}

export interface AppendState {
  size: number;
  partSize: number;
  runs: Run[];
  tail: TailPiece[];
  /** Committed (or being committed): no more appends. */
  sealed: boolean;
  /** What the append that brought the object to this size said of it (Driver.append's `label`). */
  label?: string;
}

/** One append's change (or the seal), stored at `K/s/<from>`. */
export interface Step {
  writer: string;
  from: number;
  to: number;
  /** Parts this append completed, after the existing ones. */
  runs: Run[];
  /** The whole tail after this append. */
  tail: TailPiece[];
  sealed: boolean;
  /** The label of the object at `to` (a seal keeps the one it found). */
  label?: string;
}

/** A stretch of the object's bytes and the S3 object (driver key) holding it. */
export interface Piece {
  key: string;
  start: number;
  size: number;
}

/** S3 allows 10,000 parts per multipart upload; commit turns the pieces into one. */
export const maxParts = 10_000;

/** Object metadata on the pointer: tells it from a plain object, and gives its size to a HEAD. */
const marker = 'berth-appendable';
const sizeField = 'berth-size';
const sealedField = 'berth-sealed';

export const stepKey = (key: string, offset: number): string => `${key}/s/${offset}`;
export const partKey = (key: string, index: number, writer: string): string => `${key}/p/${index}.${writer}`;
export const tailKey = (key: string, piece: TailPiece): string => piece.key ?? `${key}/t/${piece.start}.${piece.writer}`;

/** The object's one piece, when it lives at its home whole: a commit there has nothing to copy. */
export const homePiece = (s: AppendState): TailPiece | undefined => {
  const only = s.runs.length === 0 && s.tail.length === 1 ? s.tail[0] : undefined;
  return only?.key !== undefined && only.start === 0 && only.size === s.size ? only : undefined;
};

export const emptyState = (partSize: number): AppendState => ({ size: 0, partSize, runs: [], tail: [], sealed: false });

export const partCount = (s: AppendState): number => s.runs.reduce((n, r) => n + r.count, 0);

/** Bytes of the open (incomplete) part, all of them in tail pieces. */
export const tailBytes = (s: AppendState): number => s.size - partCount(s) * s.partSize;

export function pointerMetadata(s: AppendState): Record<string, string> {
  const m: Record<string, string> = { [marker]: '1', [sizeField]: String(s.size) };
  if (s.sealed) m[sealedField] = '1';
  return m;
}

/** A step's metadata: where it leads, so a HEAD can follow it without reading it. */
export const stepMetadata = (s: Step): Record<string, string> => ({ [sizeField]: String(s.to), ...(s.sealed ? { [sealedField]: '1' } : {}) });

export function stepFromMetadata(m: Record<string, string>): { to: number; sealed: boolean } {
  const to = Number(m[sizeField]);
  if (!Number.isSafeInteger(to) || to < 0) throw corrupt('step without its size');
  return { to, sealed: m[sealedField] === '1' };
}

/** What a pointer's metadata says, or undefined for a plain object. */
export function fromMetadata(m: Record<string, string>): { size: number; sealed: boolean } | undefined {
  if (m[marker] !== '1') return undefined;
  return { size: Number(m[sizeField] ?? 0), sealed: m[sealedField] === '1' };
}

/** Adds runs, joining a run to the last one when the same writer continues it. */
export function appendRuns(runs: Run[], added: Run[]): Run[] {
  const out = runs.map((r) => ({ ...r }));
  for (const r of added) {
    const last = out.at(-1);
    if (last && last.writer === r.writer) last.count += r.count;
    else out.push({ ...r });
  }
  return out;
}

export function applyStep(s: AppendState, step: Step): AppendState {
  if (step.from !== s.size) throw new StorageError('corrupt', `upload state step from ${step.from} applied at ${s.size}`);
  return { size: step.to, partSize: s.partSize, runs: appendRuns(s.runs, step.runs), tail: step.tail, sealed: step.sealed, ...labelled(step.label) };
}

/** The full parts, in order. */
export function partPieces(key: string, s: AppendState): Piece[] {
  const out: Piece[] = [];
  let index = 0;
  for (const run of s.runs) {
    for (let i = 0; i < run.count; i++, index++) {
      out.push({ key: partKey(key, index, run.writer), start: index * s.partSize, size: s.partSize });
    }
  }
  return out;
}

/** The tail pieces, in order. */
export const tailPieces = (key: string, s: AppendState): Piece[] => s.tail.map((t) => ({ key: tailKey(key, t), start: t.start, size: t.size }));

/** Every piece of the object, in order. */
export const pieces = (key: string, s: AppendState): Piece[] => [...partPieces(key, s), ...tailPieces(key, s)];

/**
 * How many of the tail pieces stay as they are when `added` new bytes join the tail; the rest are
 * rewritten into one piece with the new bytes. A piece is merged while it is smaller than twice
 * what follows it, so sizes at least halve along the tail: at most ~log2(part/added) pieces, and a
 * byte is rewritten only a logarithmic number of times however small the PATCHes are.
 */
export function tailPiecesKept(tail: TailPiece[], added: number): number {
  let kept = tail.length;
  let merged = added;
  while (kept > 0) {
    const size = tail[kept - 1]?.size ?? 0;
    if (size >= 2 * merged) break;
    merged += size;
    kept--;
  }
  return kept;
}

const text = new TextEncoder();

/** Labels are short notes (a digest); anything longer was not written by berth. */
const maxLabel = 256;
const labelled = (label: string | undefined): { label?: string } => (label === undefined ? {} : { label });
const isLabel = (l: unknown): l is string | undefined => l === undefined || (typeof l === 'string' && l.length <= maxLabel);

export const encodeState = (s: AppendState): Uint8Array =>
  text.encode(
    JSON.stringify({ v: 1, size: s.size, partSize: s.partSize, runs: s.runs.map((r) => [r.writer, r.count]), tail: encodeTail(s.tail), sealed: s.sealed, label: s.label }),
  );

export const encodeStep = (s: Step): Uint8Array =>
  text.encode(
    JSON.stringify({ v: 1, writer: s.writer, from: s.from, to: s.to, runs: s.runs.map((r) => [r.writer, r.count]), tail: encodeTail(s.tail), sealed: s.sealed, label: s.label }),
  );

const encodeTail = (tail: TailPiece[]): Array<[string, number, number] | [string, number, number, string]> =>
  tail.map((t) => (t.key === undefined ? [t.writer, t.start, t.size] : [t.writer, t.start, t.size, t.key]));

/** State that does not parse was not written by berth (or by a newer one): say so, never guess. */
const corrupt = (what: string): StorageError => new StorageError('corrupt', `storage holds a corrupt upload state: ${what}`);

type Json = Record<string, unknown>;

function parse(bytes: Uint8Array, what: string): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw corrupt(`${what} is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || (doc as Json).v !== 1) throw corrupt(`${what} has an unknown format`);
  return doc as Json;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isWriter = (w: unknown): w is string => typeof w === 'string' && /^[0-9a-f]{1,32}$/.test(w);

function decodeRuns(v: unknown, what: string): Run[] {
  if (!Array.isArray(v)) throw corrupt(`${what}: runs`);
  return v.map((r: unknown) => {
    if (!Array.isArray(r) || !isWriter(r[0]) || !isCount(r[1])) throw corrupt(`${what}: run`);
    return { writer: r[0], count: r[1] };
  });
}

function decodeTail(v: unknown, what: string): TailPiece[] {
  if (!Array.isArray(v)) throw corrupt(`${what}: tail`);
  return v.map((t: unknown) => {
    if (!Array.isArray(t) || !isWriter(t[0]) || !isCount(t[1]) || !isCount(t[2])) throw corrupt(`${what}: tail piece`);
    if (t.length > 3 && !(typeof t[3] === 'string' && t[3].length > 0 && t[3].length <= 1024)) throw corrupt(`${what}: tail piece's key`);
    return { writer: t[0], start: t[1], size: t[2], ...(typeof t[3] === 'string' ? { key: t[3] } : {}) };
  });
}

export function decodeState(bytes: Uint8Array): AppendState {
  const d = parse(bytes, 'pointer');
  if (!isCount(d.size) || !isCount(d.partSize) || d.partSize === 0) throw corrupt('pointer: sizes');
  if (!isLabel(d.label)) throw corrupt('pointer: label');
  return { size: d.size, partSize: d.partSize, runs: decodeRuns(d.runs, 'pointer'), tail: decodeTail(d.tail, 'pointer'), sealed: d.sealed === true, ...labelled(d.label) };
}

export function decodeStep(bytes: Uint8Array): Step {
  const d = parse(bytes, 'step');
  if (!isWriter(d.writer) || !isCount(d.from) || !isCount(d.to) || d.to < d.from) throw corrupt('step: header');
  if (!isLabel(d.label)) throw corrupt('step: label');
  return { writer: d.writer, from: d.from, to: d.to, runs: decodeRuns(d.runs, 'step'), tail: decodeTail(d.tail, 'step'), sealed: d.sealed === true, ...labelled(d.label) };
}
