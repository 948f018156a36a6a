import type { ByteRange } from '../../oci/range.ts';
import { maxParts } from './append-state.ts';

/**
 * S3's size limits that decide how an object is copied. The real values are the defaults; a test
 * may scale them down to drive the paths that only objects of gigabytes would take otherwise.
 */
export interface S3Limits {
  /** The largest object CopyObject copies in one request (5 GiB); larger ones are copied in ranges. */
  singleCopy: number;
  /** Parts per multipart upload (10,000). */
  maxParts: number;
  /** The largest part, and so the largest range one UploadPartCopy copies (5 GiB). */
  maxPartSize: number;
}

export const s3Limits: S3Limits = { singleCopy: 5 * 1024 ** 3, maxParts, maxPartSize: 5 * 1024 ** 3 };

/**
 * The ranges a multipart copy of an object of `size` bytes uses: `partSize` each where that stays
 * within `maxParts`, else the smallest equal size that does; never more than `maxPartSize`.
 */
export function copyRanges(size: number, partSize: number, limits: S3Limits = s3Limits): ByteRange[] {
  const step = Math.max(partSize, Math.ceil(size / limits.maxParts));
  if (step > limits.maxPartSize) {
    throw new Error(`cannot copy ${size} bytes in ${limits.maxParts} parts of at most ${limits.maxPartSize} bytes`);
  }
  const ranges: ByteRange[] = [];
  for (let start = 0; start < size; start += step) ranges.push({ start, end: Math.min(size, start + step) - 1 });
  return ranges;
}
