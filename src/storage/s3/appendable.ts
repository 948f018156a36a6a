import { randomBytes } from 'node:crypto';
import { conflict, isStorageError, StorageError } from '../errors.ts';
import {
  applyStep,
  appendRuns,
  decodeState,
  decodeStep,
  emptyState,
  encodeState,
  encodeStep,
  fromMetadata,
  maxParts as s3MaxParts,
  partCount,
  partKey,
  pointerMetadata,
  stepFromMetadata,
  stepKey,
  stepMetadata,
  tailBytes,
  tailKey,
  tailPiecesKept,
  type AppendState,
  type Run,
  type Step,
  type TailPiece,
} from './append-state.ts';
import type { AppendNote } from '../driver.ts';
import type { Bucket, OpenObject } from './bucket.ts';
import { PartBuffer, type LoadStored } from './part-buffer.ts';

export type Found = { kind: 'plain'; object: OpenObject } | { kind: 'appendable'; state: AppendState; modified: Date } | undefined;

/** What one append wrote, before it is claimed. */
interface Written {
  to: number;
  runs: Run[];
  tail: TailPiece[];
  /** Tail pieces this append rewrote: unreferenced once its step is claimed. */
  garbage: string[];
  note: AppendNote | undefined;
}

/**
 * An append that lost a race: another request (on this replica or another) changed the upload
 * since its offset was read. The upload path answers 416 with the real size, and the client asks
 * for the status and resumes.
 */
export const appendConflict = (key: string, offset: number, actual: number): StorageError => conflict(`append to ${key}`, offset, actual);

const newWriter = (): string => randomBytes(8).toString('hex');

/** The keys of tail pieces stored under the object: a piece at its home is never the object's to delete. */
const owned = (key: string, tail: TailPiece[]): string[] => tail.flatMap((t) => (t.key === undefined ? [tailKey(key, t)] : []));

/**
 * Appendable objects on S3 (upload data): the algorithm over the state in append-state.ts. Nothing
 * is kept in memory between calls, so any replica can take any append, and a process that dies
 * mid-append leaves the object at its old size (its pieces are unreferenced garbage).
 */
export class Appendables {
  readonly #bucket: Bucket;
  readonly #partSize: number;
  readonly #maxParts: number;

  /** `maxParts`: the parts a commit may assemble (S3: 10,000), which bounds an object at that many parts. */
  constructor(bucket: Bucket, partSize: number, maxParts = s3MaxParts) {
    this.#bucket = bucket;
    this.#partSize = partSize;
    this.#maxParts = maxParts;
  }

  /**
   * What `key` holds: a plain object, an appendable (its current state), or nothing. With
   * `pointer`, an appendable's state is its pointer's, which may lag behind its steps: for a caller
   * whose next conditional write fails on a step the pointer does not know (a seal).
   */
  async load(key: string, opened?: OpenObject, opts: { pointer?: boolean } = {}): Promise<Found> {
    const object = opened ?? (await this.#bucket.open(key));
    if (!object) return undefined;
    if (!fromMetadata(object.metadata)) return { kind: 'plain', object };
    const state = decodeState(await this.#bucket.collect(key, object));
    return { kind: 'appendable', state: opts.pointer ? state : await this.#rollForward(key, state), modified: object.modified };
  }

  /** The current size of an appendable whose pointer metadata a HEAD returned. */
  async size(key: string, pointer: { size: number; sealed: boolean }): Promise<number> {
    let { size, sealed } = pointer;
    while (!sealed) {
      const step = await this.#probe(key, size);
      if (!step) break;
      ({ to: size, sealed } = step);
    }
    return size;
  }

  /** At `at`, or with none wherever the object ends, noted as `note` says (Driver.append). */
  async append(key: string, at: number | undefined, body: AsyncIterable<Uint8Array>, note?: (size: number) => AppendNote | undefined): Promise<number> {
    let state = await this.#current(key);
    if (!state) {
      if (at !== undefined && at !== 0) throw appendConflict(key, at, 0);
      const fresh = emptyState(this.#partSize);
      // Create-only: a replica that created it a moment ago may already have appended to it.
      const made = await this.#bucket.put(key, encodeState(fresh), { metadata: pointerMetadata(fresh), ifAbsent: true });
      state = made ? fresh : ((await this.#current(key)) ?? fresh);
    }
    const offset = at ?? state.size;
    // Sealed: a commit of it is under way, and takes what was there when it began.
    if (state.sealed || state.size !== offset) throw appendConflict(key, offset, state.size);

    const writer = newWriter();
    const created: string[] = [];
    let written: Written;
    try {
      written = await this.#write(key, state, writer, body, created, note);
    } catch (e) {
      await this.#discard(created);
      // A tail piece this append read is gone: the request that took this offset first replaced it.
      if (isStorageError(e) && e.kind === 'missing') {
        const now = await this.#current(key);
        if (!now || now.sealed || now.size !== offset) throw appendConflict(key, offset, now?.size ?? 0);
      }
      throw e;
    }
    if (written.to === offset) return offset;

    const label = written.note?.label;
    const step: Step = { writer, from: offset, to: written.to, runs: written.runs, tail: written.tail, sealed: false, ...(label === undefined ? {} : { label }) };
    if (!(await this.#claim(key, step))) {
      await this.#discard(created);
      throw appendConflict(key, offset, (await this.#current(key))?.size ?? 0);
    }
    await this.#writePointer(key, applyStep(state, step));
    await this.#discard(written.garbage);
    return written.to;
  }

  /**
   * Stops an appendable from growing, so what commit copies is what was verified: a seal takes the
   * step slot at the current size, which any later append would need. Sealing twice is fine.
   * `pointer: false` leaves the pointer as it was (readers roll forward through the seal's step).
   */
  async seal(key: string, state: AppendState, opts: { pointer?: boolean } = {}): Promise<AppendState> {
    if (state.sealed) return state;
    const step: Step = { writer: newWriter(), from: state.size, to: state.size, runs: [], tail: state.tail, sealed: true, ...(state.label === undefined ? {} : { label: state.label }) };
    if (!(await this.#claim(key, step))) {
      const taken = await this.#step(key, state.size);
      // Another commit of the same upload sealed it: the same bytes, so go on.
      if (!taken?.sealed) throw appendConflict(key, state.size, taken?.to ?? state.size);
    }
    const sealed = { ...state, sealed: true };
    // A caller about to delete the object has no reader to spare the roll forward.
    if (opts.pointer !== false) await this.#writePointer(key, sealed);
    return sealed;
  }

  async #current(key: string): Promise<AppendState | undefined> {
    const found = await this.load(key);
    if (found?.kind === 'plain') {
      await found.object.body.cancel();
      throw new StorageError('corrupt', `${this.#bucket.where(key)} is not an appendable object`);
    }
    return found?.state;
  }

  /**
   * Reads pieces in and out of one part's buffer until the body ends. `created` collects what it
   * stored under the object, for the caller to delete if the append fails.
   */
  async #write(
    key: string,
    state: AppendState,
    writer: string,
    body: AsyncIterable<Uint8Array>,
    created: string[],
    describe: ((size: number) => AppendNote | undefined) | undefined,
  ): Promise<Written> {
    const { partSize } = state;
    const maxParts = this.#maxParts;
    const maxSize = maxParts * partSize;
    let index = partCount(state);
    let tail = state.tail;
    let size = state.size;
    let runs: Run[] = [];
    const garbage: string[] = [];
    let buffer = new PartBuffer(partSize);
    buffer.start(tailBytes(state), this.#tailLoader(key, tail, index * partSize));
    // One part goes up while the next fills, so the client is not stalled by each upload; the
    // two buffers take turns, so memory stays at two parts and makes no garbage.
    let spare: PartBuffer | undefined;
    let uploading: Promise<unknown> = Promise.resolve();
    try {
      for await (const chunk of body) {
        for (let at = 0; at < chunk.byteLength; ) {
          const n = Math.min(buffer.room, chunk.byteLength - at);
          if (size + n > maxSize) {
            throw new StorageError('limit', `blobs are limited to ${maxSize} bytes here (${maxParts} parts of ${partSize} bytes)`, {
              reason: `storage takes objects of at most ${maxSize} bytes`,
            });
          }
          await buffer.write(chunk.subarray(at, at + n));
          at += n;
          size += n;
          if (buffer.room > 0) continue;
          const part = partKey(key, index, writer);
          created.push(part);
          const bytes = await buffer.from(0);
          await uploading;
          uploading = this.#bucket.put(part, bytes);
          uploading.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
          runs = appendRuns(runs, [{ writer, count: 1 }]);
          garbage.push(...owned(key, tail));
          tail = [];
          index++;
          [buffer, spare] = [spare ?? new PartBuffer(partSize), buffer];
          buffer.start(0);
        }
      }
      await uploading;
    } catch (e) {
      // Let the part in flight land before the caller deletes what was created.
      await uploading.catch(() => undefined);
      throw e;
    }

    const note = describe?.(size);
    const added = buffer.end - buffer.base;
    if (added > 0) {
      const partStart = index * partSize;
      const kept = tailPiecesKept(tail, added);
      const from = (tail[kept]?.start ?? partStart + buffer.base) - partStart;
      // The whole object, from its first byte, in this one piece: it may go straight home. Its
      // home is not the object's to delete, so a failed append leaves it there (as the bytes they
      // were named for).
      const whole = state.size === 0 && runs.length === 0 && from === 0 ? note?.home : undefined;
      const piece: TailPiece = { writer, start: partStart + from, size: buffer.end - from, ...(whole === undefined ? {} : { key: whole }) };
      const pieceKey = tailKey(key, piece);
      if (whole === undefined) created.push(pieceKey);
      await this.#bucket.put(pieceKey, await buffer.from(from));
      garbage.push(...owned(key, tail.slice(kept)));
      tail = [...tail.slice(0, kept), piece];
    }
    return { to: size, runs, tail, garbage, note };
  }

  /** Reads the stored start of the open part (which begins at `partStart`) from its tail pieces. */
  #tailLoader(key: string, tail: TailPiece[], partStart: number): LoadStored {
    return async (from, into) => {
      const lo = partStart + from;
      const hi = lo + into.byteLength;
      await Promise.all(
        tail
          .filter((t) => t.start < hi && t.start + t.size > lo)
          .map((t) => {
            const start = Math.max(lo, t.start);
            const end = Math.min(hi, t.start + t.size);
            return this.#bucket.readInto(tailKey(key, t), start - t.start, into.subarray(start - lo, end - lo));
          }),
      );
    };
  }

  /** Takes the step slot at `step.from`; true if it is ours (also when a retried request already took it). */
  async #claim(key: string, step: Step): Promise<boolean> {
    if (await this.#bucket.put(stepKey(key, step.from), encodeStep(step), { metadata: stepMetadata(step), ifAbsent: true })) return true;
    return (await this.#step(key, step.from))?.writer === step.writer;
  }

  /** Where the step at `offset` leads, from a HEAD: the usual answer is that there is none. */
  async #probe(key: string, offset: number): Promise<{ to: number; sealed: boolean } | undefined> {
    const head = await this.#bucket.head(stepKey(key, offset));
    return head && stepFromMetadata(head.metadata);
  }

  async #step(key: string, offset: number): Promise<Step | undefined> {
    const found = await this.#bucket.bytes(stepKey(key, offset));
    return found && decodeStep(found.bytes);
  }

  /** Follows the steps past a pointer that lags, and refreshes the pointer when it did. */
  async #rollForward(key: string, pointer: AppendState): Promise<AppendState> {
    let state = pointer;
    while (!state.sealed) {
      // HEAD first: a step usually does not exist, and a GET's 404 costs more than a HEAD's.
      const step = (await this.#probe(key, state.size)) && (await this.#step(key, state.size));
      if (!step) break;
      state = applyStep(state, step);
    }
    if (state !== pointer) await this.#writePointer(key, state);
    return state;
  }

  /**
   * The pointer is a cache of the steps, so failing to write it loses nothing: the next reader
   * rolls forward. Unconditional, so a late writer may set it back; readers roll forward past that too.
   */
  async #writePointer(key: string, state: AppendState): Promise<void> {
    await this.#bucket.put(key, encodeState(state), { metadata: pointerMetadata(state) }).catch(() => undefined);
  }

  /** Best effort: what is left is unreferenced and goes when the upload's prefix is deleted. */
  async #discard(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.#bucket.deleteMany(keys).catch(() => undefined);
  }
}
