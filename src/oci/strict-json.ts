/**
 * JSON as a registry must accept it from a client: what any mainstream client can read back. A
 * registry serves a manifest's bytes verbatim under their digest, so it must refuse what it would
 * otherwise accept and then hand to clients that cannot parse it, or that parse it differently
 * from the registry (a manifest whose layers one parser sees and another does not).
 *
 * Refused, beyond what `JSON.parse` refuses (trailing garbage, comments, raw control characters):
 * - a byte order mark: RFC 8259 §8.1 forbids it; Go's encoding/json (containerd, skopeo, docker)
 *   and serde_json fail on it;
 * - bytes that are not UTF-8, and `\u` escapes that leave a lone surrogate: not text;
 *   serde_json refuses lone surrogates;
 * - a key twice in one object: Go takes the last, serde's derived types fail, others take the
 *   first, so two clients could read two different manifests under one digest;
 * - nesting deeper than `maxJsonDepth`: serde_json stops at 128 levels, and no manifest needs more.
 * Whitespace and key order are free: tools push pretty-printed manifests, and their digests are
 * over the bytes as sent.
 */
export const maxJsonDepth = 100;

export type StrictJson = { ok: true; value: unknown } | { ok: false; problem: string };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const quote = 0x22;
const backslash = 0x5c;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Objects with more keys than this are checked for repeats with a Set rather than a scan. */
const smallObject = 16;

export function parseStrictJson(bytes: Uint8Array): StrictJson {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { ok: false, problem: 'starts with a byte order mark (U+FEFF), which JSON forbids' };
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, problem: 'is not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'is not valid JSON' };
  }
  const problem = structureProblem(text);
  return problem === undefined ? { ok: true, value } : { ok: false, problem };
}

/**
 * Walks JSON text that `JSON.parse` accepted, looking at its strings and nesting only: repeated
 * keys, lone surrogates and depth. Allocates one reusable key list per level, not per object, so
 * a manifest of tens of thousands of descriptors costs next to nothing beyond its parse.
 */
function structureProblem(text: string): string | undefined {
  // Per open container: the keys seen so far (objects) or undefined (arrays).
  const keysAt: Array<string[] | undefined> = [];
  const pool: string[][] = [];
  const sets: Array<Set<string> | undefined> = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === quote) {
      let end = i + 1;
      let escaped = false;
      for (let d = text.charCodeAt(end); d !== quote; d = text.charCodeAt(++end)) {
        if (d === backslash) {
          escaped = true;
          end++;
        }
      }
      let decoded: string | undefined;
      if (escaped) {
        decoded = JSON.parse(text.slice(i, end + 1)) as string;
        if (loneSurrogate.test(decoded)) return 'has a string with an unpaired surrogate escape';
      }
      if (expectKey) {
        const key = decoded ?? text.slice(i + 1, end);
        const keys = keysAt[depth - 1]!;
        let set = sets[depth - 1];
        if (set === undefined && keys.length >= smallObject) sets[depth - 1] = set = new Set(keys);
        if (set ? set.has(key) : keys.includes(key)) return `has the key ${JSON.stringify(key.slice(0, 100))} twice in one object`;
        keys.push(key);
        set?.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxJsonDepth) return `nests deeper than ${maxJsonDepth} levels`;
      if (c === 0x7b) {
        const keys = (pool[depth - 1] ??= []);
        keys.length = 0;
        keysAt[depth - 1] = keys;
        expectKey = true;
      } else {
        keysAt[depth - 1] = undefined;
      }
      sets[depth - 1] = undefined;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      expectKey = keysAt[depth - 1] !== undefined;
    }
  }
  return undefined;
}
