import { createHash, randomUUID } from 'node:crypto';
import { check, expectBytes, expectEnvelopeIfJson, expectError, expectHeader, expectStatus } from '../assert.ts';
import type { Reply } from '../client.ts';
import { MediaTypes, content, randomBlob, unknownDigest, type Content, type DigestAlgorithm } from '../fixtures.ts';
import {
  chunkSizeFor,
  locationOf,
  octetStream,
  patchChunk,
  patchInChunks,
  paths,
  pushBlob,
  startUpload,
  withDigest,
  type Upload,
} from '../operations.ts';
import type { CaseContext, CaseDefinition } from '../types.ts';

/** Chunk size when the registry sets no OCI-Chunk-Min-Length. */
const DEFAULT_CHUNK = 1024;

/** After a successful upload: the blob is served from the repository with the exact bytes. */
async function expectBlobStored(ctx: CaseContext, repo: string, blob: Content): Promise<void> {
  ctx.cleanup(() => ctx.client.request('DELETE', paths.blob(repo, blob.digest)));
  const reply = await ctx.client.request('GET', paths.blob(repo, blob.digest));
  expectStatus(reply, 200);
  expectBytes(reply.body, blob.bytes, 'pulled blob');
}

/** Spec: the closing PUT (and a 201 mount) MUST answer 201 with a pullable Location. */
async function expectBlobCreated(ctx: CaseContext, reply: Reply, repo: string, blob: Content): Promise<void> {
  expectStatus(reply, 201);
  const location = locationOf(ctx.client, reply);
  expectHeader(reply, 'Docker-Content-Digest', blob.digest);
  const pulled = await ctx.client.request('GET', location);
  expectStatus(pulled, 200);
  expectBytes(pulled.body, blob.bytes, `blob at the returned Location ${location.pathname}`);
  await expectBlobStored(ctx, repo, blob);
}

function closeUpload(ctx: CaseContext, location: URL, digest: string, finalChunk?: { blob: Content; start: number }): Promise<Reply> {
  if (!finalChunk) return ctx.client.request('PUT', withDigest(location, digest), { body: new Uint8Array(0), headers: octetStream });
  const { blob, start } = finalChunk;
  return ctx.client.request('PUT', withDigest(location, digest), {
    body: blob.bytes.slice(start),
    headers: { ...octetStream, 'Content-Range': `${start}-${blob.size - 1}` },
  });
}

interface ChunkedSession {
  upload: Upload;
  chunk: number;
  /** Three chunks' worth minus a few bytes, so the last chunk is short. */
  blob: Content;
}

async function startChunkedSession(ctx: CaseContext, repo: string, algorithm: DigestAlgorithm = 'sha256', query: Record<string, string> = {}): Promise<ChunkedSession> {
  const upload = await startUpload(ctx, repo, query);
  const chunk = chunkSizeFor(upload, DEFAULT_CHUNK);
  return { upload, chunk, blob: randomBlob(chunk * 3 - 5, algorithm) };
}

type UploadMethod = 'GET' | 'PATCH' | 'PUT' | 'DELETE';

/** `method` on an upload id the registry never handed out (in a repository that exists). */
async function onUnknownUpload(ctx: CaseContext, method: UploadMethod): Promise<Reply> {
  const repo = ctx.repo('uploads');
  await pushBlob(ctx, repo, randomBlob(16));
  const target = paths.upload(repo, randomUUID());
  const blob = randomBlob(16);
  const options =
    method === 'PATCH'
      ? { body: blob.bytes, headers: { ...octetStream, 'Content-Range': `0-${blob.size - 1}` } }
      : method === 'PUT'
        ? { body: blob.bytes, headers: octetStream, query: { digest: blob.digest } }
        : {};
  const reply = await ctx.client.request(method, target, options);
  // Whatever it answered, a PUT must not have made a blob out of a session that never existed.
  if (method === 'PUT') expectStatus(await ctx.client.request('HEAD', paths.blob(repo, blob.digest)), 404);
  return reply;
}

/** Spec: end-5, end-6, end-13 and end-14 fail with 404; the spec ties no error code to it. */
function unknownUploadCase(method: UploadMethod): CaseDefinition {
  return {
    name: `${method} on an unknown upload id → 404 with the error envelope`,
    async run(ctx) {
      expectError(await onUnknownUpload(ctx, method), 404);
    },
  };
}

const uploadMethods: readonly UploadMethod[] = ['GET', 'PATCH', 'PUT', 'DELETE'];

const blobUploadCases: CaseDefinition[] = [
  {
    name: 'POST /blobs/uploads/ → 202 with a Location that takes the upload (end-4a)',
    async run(ctx) {
      const repo = ctx.repo('upload');
      const { location } = await startUpload(ctx, repo);
      // The Location is only right if the upload it names works: finish it there and pull the blob.
      const blob = randomBlob(1024);
      const reply = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
      await expectBlobCreated(ctx, reply, repo, blob);
    },
  },
  {
    name: 'POST then PUT (monolithic) → 201 with Location and Docker-Content-Digest (end-6)',
    async run(ctx) {
      const repo = ctx.repo('monolithic');
      const blob = randomBlob(4096);
      const { location } = await startUpload(ctx, repo);
      const reply = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
      await expectBlobCreated(ctx, reply, repo, blob);
    },
  },
  {
    name: 'single POST with ?digest= → 201 (end-4b; 202 then PUT is an allowed fallback)',
    async run(ctx) {
      const repo = ctx.repo('single-post');
      const blob = randomBlob(4096);
      const reply = await ctx.client.request('POST', paths.uploads(repo), { body: blob.bytes, headers: octetStream, query: { digest: blob.digest } });
      if (reply.status === 202) {
        // Spec: registries without single-POST support SHOULD answer 202 + Location; the client then PUTs.
        const location = locationOf(ctx.client, reply);
        const put = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
        await expectBlobCreated(ctx, put, repo, blob);
        ctx.note('single POST not supported: answered 202 and the PUT completed (allowed fallback)');
        return;
      }
      await expectBlobCreated(ctx, reply, repo, blob);
    },
  },
  {
    name: 'chunked upload: PATCH with Content-Range → 202, Location, Range 0-N; PUT → 201 (end-5)',
    async run(ctx) {
      const repo = ctx.repo('chunked');
      const { upload, chunk, blob } = await startChunkedSession(ctx, repo);
      const location = await patchInChunks(ctx, upload.location, blob, chunk);
      await expectBlobCreated(ctx, await closeUpload(ctx, location, blob.digest), repo, blob);
    },
  },
  {
    name: 'chunked upload with the final chunk sent on the closing PUT → 201',
    async run(ctx) {
      const repo = ctx.repo('chunked');
      const { upload, chunk, blob } = await startChunkedSession(ctx, repo);
      const location = await patchInChunks(ctx, upload.location, blob, chunk, 0, 2 * chunk);
      const reply = await closeUpload(ctx, location, blob.digest, { blob, start: 2 * chunk });
      await expectBlobCreated(ctx, reply, repo, blob);
    },
  },
  {
    name: 'GET upload status → 204 with Location and Range 0-N (end-13)',
    async run(ctx) {
      const repo = ctx.repo('status');
      const { upload, chunk, blob } = await startChunkedSession(ctx, repo);
      const location = await patchInChunks(ctx, upload.location, blob, chunk, 0, chunk);
      const status = await ctx.client.request('GET', location);
      expectStatus(status, 204);
      expectHeader(status, 'Range', `0-${chunk - 1}`);
      // The status's Location continues the same upload: the rest goes there and the blob is whole.
      const resumed = await patchInChunks(ctx, locationOf(ctx.client, status), blob, chunk, chunk);
      await expectBlobCreated(ctx, await closeUpload(ctx, resumed, blob.digest), repo, blob);
    },
  },
  {
    name: 'GET status of a new upload (no bytes yet) → 204 with Location and Range headers (end-13)',
    async run(ctx) {
      const repo = ctx.repo('status');
      const { location } = await startUpload(ctx, repo);
      const status = await ctx.client.request('GET', location);
      expectStatus(status, 204);
      // The spec does not say how to write "nothing yet" (0-0 is Docker's habit), only that Range is there.
      expectHeader(status, 'Range', /^0-\d+$/);
      // Nothing was received: the whole blob still goes to the status's Location, from byte 0.
      const blob = randomBlob(700);
      const reply = await ctx.client.request('PUT', withDigest(locationOf(ctx.client, status), blob.digest), { body: blob.bytes, headers: octetStream });
      await expectBlobCreated(ctx, reply, repo, blob);
    },
  },
  {
    name: 'chunked upload out of order (skipping ahead) → 416; status keeps the offset; upload resumes',
    async run(ctx) {
      const repo = ctx.repo('out-of-order');
      const { upload, chunk, blob } = await startChunkedSession(ctx, repo);
      const afterFirst = await patchInChunks(ctx, upload.location, blob, chunk, 0, chunk);
      const skipped = await patchChunk(ctx.client, afterFirst, blob, 2 * chunk, blob.size - 1);
      expectStatus(skipped, 416);
      expectEnvelopeIfJson(skipped);
      // Spec: "A GET request may be used to retrieve the current valid offset and upload location."
      const status = await ctx.client.request('GET', afterFirst);
      expectStatus(status, 204);
      expectHeader(status, 'Range', `0-${chunk - 1}`);
      const resumed = await patchInChunks(ctx, locationOf(ctx.client, status), blob, chunk, chunk);
      await expectBlobCreated(ctx, await closeUpload(ctx, resumed, blob.digest), repo, blob);
    },
  },
  {
    name: 'chunked upload whose first PATCH does not start at 0 → 416',
    async run(ctx) {
      const { upload, chunk, blob } = await startChunkedSession(ctx, ctx.repo('out-of-order'));
      const reply = await patchChunk(ctx.client, upload.location, blob, chunk, 2 * chunk - 1);
      expectStatus(reply, 416);
      expectEnvelopeIfJson(reply);
    },
  },
  {
    name: 'chunked upload with a PATCH overlapping the previous chunk → 416',
    async run(ctx) {
      const { upload, chunk, blob } = await startChunkedSession(ctx, ctx.repo('overlap'));
      const afterFirst = await patchInChunks(ctx, upload.location, blob, chunk, 0, chunk);
      const reply = await patchChunk(ctx.client, afterFirst, blob, chunk - 3, 2 * chunk - 4);
      expectStatus(reply, 416);
      expectEnvelopeIfJson(reply);
    },
  },
  {
    name: 'chunks of the advertised OCI-Chunk-Min-Length (a positive integer, when present) → 201, the blob is whole',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('chunk-min');
      const upload = await startUpload(ctx, repo);
      const value = upload.reply.header('OCI-Chunk-Min-Length');
      if (value === null) ctx.note('not advertised (optional)');
      else check(/^[1-9][0-9]*$/.test(value.trim()), `OCI-Chunk-Min-Length is "${value}", expected a positive integer`);
      // Chunks of exactly the advertised size (the smallest the registry asks for), then a short last one.
      const chunk = value === null ? DEFAULT_CHUNK : Number(value.trim());
      const blob = randomBlob(chunk * 2 + 7);
      const location = await patchInChunks(ctx, upload.location, blob, chunk);
      await expectBlobCreated(ctx, await closeUpload(ctx, location, blob.digest), repo, blob);
    },
  },
  {
    name: 'streamed PATCH without Content-Range, then PUT → 201 (Docker client flow)',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('streamed');
      const blob = randomBlob(3000);
      const { location } = await startUpload(ctx, repo);
      const patch = await ctx.client.request('PATCH', location, { body: blob.bytes, headers: octetStream });
      expectStatus(patch, 202);
      await expectBlobCreated(ctx, await closeUpload(ctx, locationOf(ctx.client, patch), blob.digest), repo, blob);
    },
  },
  {
    name: 'zero-byte blob: POST then PUT with an empty body → 201; HEAD → Content-Length 0',
    async run(ctx) {
      const repo = ctx.repo('empty-blob');
      const blob = content(new Uint8Array(0), MediaTypes.octetStream);
      const { location } = await startUpload(ctx, repo);
      await expectBlobCreated(ctx, await closeUpload(ctx, location, blob.digest), repo, blob);
      const head = await ctx.client.request('HEAD', paths.blob(repo, blob.digest));
      expectStatus(head, 200);
      expectHeader(head, 'Content-Length', '0');
    },
  },
  {
    name: 'closing PUT with a digest that does not match the bytes → 400 DIGEST_INVALID',
    async run(ctx) {
      const repo = ctx.repo('bad-digest');
      const blob = randomBlob(1024);
      const wrong = unknownDigest();
      const { location } = await startUpload(ctx, repo);
      expectError(await ctx.client.request('PUT', withDigest(location, wrong), { body: blob.bytes, headers: octetStream }), 400, 'DIGEST_INVALID');
      expectStatus(await ctx.client.request('HEAD', paths.blob(repo, wrong)), 404);
    },
  },
  {
    name: 'single POST with a digest that does not match the bytes → 400 DIGEST_INVALID',
    async run(ctx) {
      const repo = ctx.repo('bad-digest');
      const blob = randomBlob(1024);
      const wrong = unknownDigest();
      const reply = await ctx.client.request('POST', paths.uploads(repo), { body: blob.bytes, headers: octetStream, query: { digest: wrong } });
      if (reply.status === 202) {
        const put = await ctx.client.request('PUT', withDigest(locationOf(ctx.client, reply), wrong), { body: blob.bytes, headers: octetStream });
        expectError(put, 400, 'DIGEST_INVALID');
        ctx.note('single POST not supported (202); the PUT was refused with DIGEST_INVALID');
        return;
      }
      expectError(reply, 400, 'DIGEST_INVALID');
    },
  },
  {
    name: 'chunked upload closed with a digest that does not match → 400 DIGEST_INVALID',
    async run(ctx) {
      const { upload, chunk, blob } = await startChunkedSession(ctx, ctx.repo('bad-digest'));
      const location = await patchInChunks(ctx, upload.location, blob, chunk);
      expectError(await closeUpload(ctx, location, unknownDigest()), 400, 'DIGEST_INVALID');
    },
  },
  {
    name: 'POST then PUT with a sha512 digest → 201 with the sha512 Docker-Content-Digest',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('sha512');
      const blob = randomBlob(2048, 'sha512');
      const { location } = await startUpload(ctx, repo);
      const reply = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
      await expectBlobCreated(ctx, reply, repo, blob);
    },
  },
  {
    name: 'POST ?digest-algorithm=sha512 (end-4c), chunked PATCH, PUT with the sha512 digest → 201',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('sha512');
      const { upload, chunk, blob } = await startChunkedSession(ctx, repo, 'sha512', { 'digest-algorithm': 'sha512' });
      const location = await patchInChunks(ctx, upload.location, blob, chunk);
      await expectBlobCreated(ctx, await closeUpload(ctx, location, blob.digest), repo, blob);
    },
  },
  {
    name: 'POST ?digest-algorithm=sha1 (unsupported) → 400 DIGEST_INVALID',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('unsupported-alg');
      const reply = await ctx.client.request('POST', paths.uploads(repo), { body: new Uint8Array(0), query: { 'digest-algorithm': 'sha1' } });
      if (reply.status === 202) ctx.cleanup(() => ctx.client.request('DELETE', locationOf(ctx.client, reply)));
      expectError(reply, 400, 'DIGEST_INVALID');
    },
  },
  {
    name: 'closing PUT with an unsupported digest algorithm (sha1) → 400 (SHOULD), DIGEST_INVALID',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('unsupported-alg');
      const blob = randomBlob(256);
      const sha1 = `sha1:${createHash('sha1').update(blob.bytes).digest('hex')}`;
      const { location } = await startUpload(ctx, repo);
      expectError(await ctx.client.request('PUT', withDigest(location, sha1), { body: blob.bytes, headers: octetStream }), 400, 'DIGEST_INVALID');
    },
  },
  {
    name: 'cancel upload: DELETE → 204, then GET status → 404 BLOB_UPLOAD_UNKNOWN (end-14)',
    async run(ctx) {
      const repo = ctx.repo('cancel');
      const { upload, chunk, blob } = await startChunkedSession(ctx, repo);
      const location = await patchInChunks(ctx, upload.location, blob, chunk, 0, chunk);
      expectStatus(await ctx.client.request('DELETE', location), 204);
      expectError(await ctx.client.request('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
    },
  },
  ...uploadMethods.map(unknownUploadCase),
  {
    // The code table has BLOB_UPLOAD_UNKNOWN for exactly this; distribution answers BLOB_UPLOAD_INVALID.
    name: 'GET, PATCH, PUT and DELETE on an unknown upload id → BLOB_UPLOAD_UNKNOWN',
    level: 'berth',
    async run(ctx) {
      for (const method of uploadMethods) expectError(await onUnknownUpload(ctx, method), 404, 'BLOB_UPLOAD_UNKNOWN');
    },
  },
];

const mountCases: CaseDefinition[] = [
  {
    name: 'cross-repository mount ?mount=&from= → 201 with Location and Docker-Content-Digest (end-11)',
    async run(ctx) {
      const source = ctx.crossRepo('mount-source');
      const target = ctx.repo('mount-target');
      const blob = randomBlob(1024);
      await pushBlob(ctx, source, blob);
      const reply = await ctx.client.request('POST', paths.uploads(target), { body: new Uint8Array(0), query: { mount: blob.digest, from: source } });
      if (reply.status === 202) {
        // Spec: a registry that does not or cannot mount SHOULD answer 202 and start an upload.
        const put = await ctx.client.request('PUT', withDigest(locationOf(ctx.client, reply), blob.digest), { body: blob.bytes, headers: octetStream });
        await expectBlobCreated(ctx, put, target, blob);
        ctx.note('registry did not mount (202 + upload session, which the spec allows)');
        return;
      }
      await expectBlobCreated(ctx, reply, target, blob);
    },
  },
  {
    name: 'mount of a blob missing from the source → 202 with a usable upload Location',
    async run(ctx) {
      const source = ctx.crossRepo('mount-source');
      const target = ctx.repo('mount-target');
      await pushBlob(ctx, source, randomBlob(64));
      const missing = randomBlob(512);
      const reply = await ctx.client.request('POST', paths.uploads(target), { body: new Uint8Array(0), query: { mount: missing.digest, from: source } });
      expectStatus(reply, 202);
      const location = locationOf(ctx.client, reply);
      ctx.cleanup(() => ctx.client.request('DELETE', location));
      const put = await ctx.client.request('PUT', withDigest(location, missing.digest), { body: missing.bytes, headers: octetStream });
      await expectBlobCreated(ctx, put, target, missing);
    },
  },
  {
    name: 'anonymous mount (no from) → 201, or 202 with an upload Location',
    async run(ctx) {
      const source = ctx.crossRepo('mount-source');
      const target = ctx.repo('mount-target');
      const blob = randomBlob(1024);
      await pushBlob(ctx, source, blob);
      const reply = await ctx.client.request('POST', paths.uploads(target), { body: new Uint8Array(0), query: { mount: blob.digest } });
      if (reply.status === 202) {
        // Spec: a registry that does not mount SHOULD answer 202 and start an upload; it must take the blob.
        const location = locationOf(ctx.client, reply);
        ctx.cleanup(() => ctx.client.request('DELETE', location));
        const put = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
        await expectBlobCreated(ctx, put, target, blob);
        ctx.note('no anonymous mount: 202 + upload session (the spec makes `from`-less mounts optional)');
        return;
      }
      await expectBlobCreated(ctx, reply, target, blob);
    },
  },
];

/** Spec: Push — pushing blobs (monolithic, chunked), upload status and cancel, mounts. */
export const blobPushCases: CaseDefinition[] = [...blobUploadCases, ...mountCases];
