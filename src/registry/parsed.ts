/**
 * Parses each bytes object once. The LRU in front of storage hands every reader the same bytes
 * object until the stored object changes (src/cache/driver.ts), so this is one parse per version
 * of a tag or link rather than one per request; without the cache it costs one WeakMap miss. The
 * result is shared, so it is frozen.
 */
export function parsedOnce<T extends object>(parse: (raw: Uint8Array) => T): (raw: Uint8Array) => Readonly<T> {
  const seen = new WeakMap<Uint8Array, Readonly<T>>();
  return (raw) => {
    let value = seen.get(raw);
    if (value === undefined) {
      value = Object.freeze(parse(raw));
      seen.set(raw, value);
    }
    return value;
  };
}
