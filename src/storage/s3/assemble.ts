import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { ByteRange } from '../../oci/range.ts';
import type { Piece } from './append-state.ts';
import { StorageError } from '../errors.ts';
import type { Bucket } from './bucket.ts';
import { copyRanges, s3Limits, type S3Limits } from './limits.ts';

/** Server-side part copies in flight during one commit: S3 works on each for a while. */
const copyConcurrency = 8;

/** Where one part of the target comes from: a copy of (a range of) an object, or bytes we send. */
type Source = { copy: string; range?: ByteRange } | { bytes: () => Promise<Uint8Array> };

/**
 * Builds the object `to` from pieces entirely inside S3 (CopyObject, or a multipart upload of
 * UploadPartCopy parts), never through this process. `to` appears at once, when S3 completes it.
 * Full parts are copied as they are, so all parts but the last have one size (R2 requires it);
 * several small tail pieces become the last part, sent from memory (less than one part).
 */
export async function assemble(bucket: Bucket, to: string, parts: Piece[], tail: Piece[]): Promise<void> {
  const tailBytes = (): Promise<Uint8Array> => gather(bucket, tail);
  if (parts.length + tail.length <= 1) {
    const only = parts[0] ?? tail[0];
    if (only) await bucket.copy(only.key, to);
    else await bucket.put(to, new Uint8Array(0));
    return;
  }
  if (parts.length === 0) {
    await bucket.put(to, await tailBytes());
    return;
  }
  const sources: Source[] = parts.map((p) => ({ copy: p.key }));
  if (tail.length === 1 && tail[0]) sources.push({ copy: tail[0].key });
  else if (tail.length > 1) sources.push({ bytes: tailBytes });
  await multipart(bucket, to, sources);
}

/** Copies one object of `size` bytes to `to` in S3; past CopyObject's limit (5 GiB) in ranges. */
export async function copyObject(bucket: Bucket, from: string, to: string, size: number, partSize: number, limits: S3Limits = s3Limits): Promise<void> {
  if (size <= limits.singleCopy) return bucket.copy(from, to);
  await multipart(bucket, to, copyRanges(size, partSize, limits).map((range) => ({ copy: from, range })));
}

/** Reads small pieces into one buffer, in order. */
async function gather(bucket: Bucket, pieces: Piece[]): Promise<Uint8Array> {
  const first = pieces[0]?.start ?? 0;
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.size, 0));
  await Promise.all(pieces.map((p) => bucket.readInto(p.key, 0, out.subarray(p.start - first, p.start - first + p.size))));
  return out;
}

async function multipart(bucket: Bucket, to: string, sources: Source[]): Promise<void> {
  const Bucket = bucket.name;
  const Key = bucket.key(to);
  const where = bucket.where(to);
  const { UploadId } = await bucket.run(`CreateMultipartUpload ${where}`, (o) => bucket.client.send(new CreateMultipartUploadCommand({ Bucket, Key }), o));
  if (!UploadId) throw new StorageError('failed', `CreateMultipartUpload ${where} returned no upload id`);
  const part = async (source: Source, PartNumber: number): Promise<string | undefined> => {
    if ('bytes' in source) {
      const Body = await source.bytes();
      const r = await bucket.run(`UploadPart ${PartNumber} of ${where}`, (o) =>
        bucket.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.byteLength }), o),
      );
      return r.ETag;
    }
    const r = await bucket.run(`UploadPartCopy ${PartNumber} of ${where}`, (o) =>
      bucket.client.send(
        new UploadPartCopyCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber,
          CopySource: bucket.copySource(source.copy),
          CopySourceRange: source.range && `bytes=${source.range.start}-${source.range.end}`,
        }),
        o,
      ),
    );
    return r.CopyPartResult?.ETag;
  };
  try {
    const etags = await pool(sources.map((s, i) => () => part(s, i + 1)), copyConcurrency);
    await bucket.run(`CompleteMultipartUpload ${where}`, (o) =>
      bucket.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          // Ceph returns copy ETags without quotes; it and AWS accept them as they came.
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
        }),
        o,
      ),
    );
  } catch (e) {
    await bucket.run(`AbortMultipartUpload ${where}`, (o) => bucket.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }), o)).catch(() => undefined);
    throw e;
  }
}

/** Runs tasks with at most `limit` at once; results in task order; the first failure wins. */
async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await (tasks[i] as () => Promise<T>)();
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
