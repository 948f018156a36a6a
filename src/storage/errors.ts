/**
 * What went wrong in storage, in storage's own words. Drivers throw these and nothing else for
 * their own failures; src/http/errors.ts is the one place that turns them into the spec's errors.
 * The message is the detail for the operator's log (keys, paths, hosts, the cause); it is never
 * shown to a client, who sees only what the kind (and `reason`) says.
 */
export type StorageErrorKind =
  /** An object the operation needs is not there (e.g. committing an upload that is gone). */
  | 'missing'
  /** An appendable object is not at the offset the caller expected: another writer moved it. */
  | 'conflict'
  /** Storage cannot be reached or fails for now; trying again later may work. */
  | 'unavailable'
  /** Storage did not answer in time. */
  | 'timeout'
  /** No space (or quota) left for the write, or free space below the configured floor. */
  | 'full'
  /** Storage refuses us: permissions, credentials, a read-only filesystem. */
  | 'denied'
  /** The object is larger than this storage can hold (S3: 10,000 parts). */
  | 'limit'
  /** Stored data that berth cannot read back. */
  | 'corrupt'
  /** A key that breaks the driver's rules: a bug above the driver. */
  | 'invalid'
  /** Anything else. */
  | 'failed';

export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  /** For `conflict`: the size the object actually has, when the driver knows it. */
  readonly size: number | undefined;
  /**
   * A short phrase a client may read (`no space left on device`, `quota exceeded`): chosen from
   * constants in the driver, never built from keys, paths or hosts.
   */
  readonly reason: string | undefined;

  constructor(kind: StorageErrorKind, detail: string, opts: { size?: number; reason?: string; cause?: unknown } = {}) {
    super(detail);
    this.name = 'StorageError';
    this.kind = kind;
    this.size = opts.size;
    this.reason = opts.reason;
    // Not enumerable: an SDK error as cause is large, and the detail already says what it said.
    if (opts.cause !== undefined) Object.defineProperty(this, 'cause', { value: opts.cause, enumerable: false });
  }

  /** One log line's worth: the detail and the kind. A stack says nothing about an outage. */
  logFields(): Record<string, unknown> {
    return { error: this.message, storage: this.kind };
  }
}

export const isStorageError = (e: unknown): e is StorageError => e instanceof StorageError;

/** The conflict of an append or commit that expected `expected` bytes where there are `actual`. */
export const conflict = (what: string, expected: number, actual: number): StorageError =>
  new StorageError('conflict', `${what}: expected ${expected} bytes, the object holds ${actual}`, { size: actual });
