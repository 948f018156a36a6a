/** Fills `into` with the part's stored bytes from part offset `from` up to the stored length. */
export type LoadStored = (from: number, into: Uint8Array) => Promise<void>;

const nothingStored: LoadStored = async () => undefined;

/**
 * New bytes held loose (without the part's stored start) up to this much; past it, a part is
 * likely to be completed, so the stored start is fetched and the part assembled in place.
 */
const looseLimit = 1 << 20;
const minCapacity = 64 << 10;

/**
 * One part of an upload as its bytes arrive, never more than one part in memory. The first `base`
 * bytes of the part may already be stored (the upload's tail); they are fetched only when needed,
 * so a small PATCH costs memory for its own bytes, not for a part.
 */
export class PartBuffer {
  readonly partSize: number;
  #bytes = new Uint8Array(0);
  /** Part offset of `#bytes[0]`: `base` while loose, 0 once the stored start is in place. */
  #origin = 0;
  #base = 0;
  /** Part offset just past the last byte held. */
  #end = 0;
  #load: LoadStored = nothingStored;

  constructor(partSize: number) {
    this.partSize = partSize;
  }

  /** Begins a part whose first `base` bytes are stored and readable through `load`. */
  start(base: number, load: LoadStored = nothingStored): void {
    this.#base = base;
    this.#origin = base;
    this.#end = base;
    this.#load = load;
  }

  get base(): number {
    return this.#base;
  }

  /** Part offset reached: stored plus new bytes. */
  get end(): number {
    return this.#end;
  }

  get room(): number {
    return this.partSize - this.#end;
  }

  /** Takes a chunk of at most `room` bytes. */
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength > this.room) throw new RangeError('chunk larger than the room left in the part');
    const need = this.#end - this.#origin + chunk.byteLength;
    if (this.#origin > 0 && need > looseLimit) await this.#anchor(this.#end + chunk.byteLength);
    else this.#reserve(need);
    this.#bytes.set(chunk, this.#end - this.#origin);
    this.#end += chunk.byteLength;
  }

  /**
   * The part's bytes from part offset `from` to `end`, stored ones fetched as needed. The result
   * may be a view of the buffer: use it before the next `write`.
   */
  async from(from: number): Promise<Uint8Array> {
    if (from >= this.#origin) return this.#bytes.subarray(from - this.#origin, this.#end - this.#origin);
    if (from === 0) {
      await this.#anchor(this.#end);
      return this.#bytes.subarray(0, this.#end);
    }
    const out = new Uint8Array(this.#end - from);
    await this.#load(from, out.subarray(0, this.#origin - from));
    out.set(this.#bytes.subarray(0, this.#end - this.#origin), this.#origin - from);
    return out;
  }

  #reserve(need: number): void {
    if (need <= this.#bytes.byteLength) return;
    const next = new Uint8Array(Math.min(this.partSize - this.#origin, Math.max(need, 2 * this.#bytes.byteLength, minCapacity)));
    next.set(this.#bytes.subarray(0, this.#end - this.#origin));
    this.#bytes = next;
  }

  /** Brings the stored start into the buffer so the part is laid out from offset 0. */
  async #anchor(need: number): Promise<void> {
    if (this.#origin === 0) return this.#reserve(need);
    const loose = this.#bytes.subarray(0, this.#end - this.#origin);
    if (this.#bytes.byteLength >= need) {
      this.#bytes.copyWithin(this.#origin, 0, loose.byteLength);
    } else {
      const next = new Uint8Array(Math.min(this.partSize, Math.max(need, 2 * this.#end, minCapacity)));
      next.set(loose, this.#origin);
      this.#bytes = next;
    }
    await this.#load(0, this.#bytes.subarray(0, this.#origin));
    this.#origin = 0;
  }
}
