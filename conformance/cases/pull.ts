import {
  check,
  expectBytes,
  expectContentType,
  expectEmptyBody,
  expectEnvelopeIfJson,
  expectError,
  expectHeader,
  expectStatus,
  fail,
} from '../assert.ts';
import type { Reply } from '../client.ts';
import { randomBlob, uniqueId, unknownDigest, type Content } from '../fixtures.ts';
import { getManifest, octetStream, paths, pushBlob, pushImage, startUpload, withDigest } from '../operations.ts';
import type { CaseContext, CaseDefinition } from '../types.ts';

/** Spec: Pulling manifests — 200, the exact bytes, the pushed Content-Type and its digest. */
function expectManifestReply(reply: Reply, manifest: Content): void {
  expectStatus(reply, 200);
  expectContentType(reply, manifest.mediaType);
  expectHeader(reply, 'Docker-Content-Digest', manifest.digest);
  if (reply.method === 'HEAD') {
    expectHeader(reply, 'Content-Length', String(manifest.size));
  } else {
    expectBytes(reply.body, manifest.bytes, 'manifest body');
    const length = reply.header('Content-Length');
    if (length !== null) check(length === String(manifest.size), `Content-Length ${length}, expected ${manifest.size}`);
  }
}

/** Spec: Checking if content exists — "A HEAD response must not include a response body". */
async function expectNoBodyOnTheWire(ctx: CaseContext, path: string, accept?: string): Promise<void> {
  const raw = await ctx.client.rawHead(path, accept ? { Accept: accept } : {});
  check(raw.bodyBytes === 0, `HEAD ${path} sent ${raw.bodyBytes} body bytes after the headers`);
}

function rangeGet(ctx: CaseContext, repo: string, blob: Content, range: string): Promise<Reply> {
  return ctx.client.request('GET', paths.blob(repo, blob.digest), { headers: { Range: `bytes=${range}` } });
}

/** RFC 9110 §14.4: a satisfiable range → 206 with `Content-Range: bytes first-last/size` and just those bytes. */
function expectPartial(reply: Reply, blob: Content, first: number, last: number): void {
  if (reply.status === 200) fail(`Range was ignored (200 with the whole blob); registries SHOULD support RFC 9110 ranges`);
  expectStatus(reply, 206);
  expectHeader(reply, 'Content-Range', `bytes ${first}-${last}/${blob.size}`);
  expectBytes(reply.body, blob.bytes.slice(first, last + 1), `bytes ${first}-${last}`);
}

async function pushRangeBlob(ctx: CaseContext): Promise<{ repo: string; blob: Content }> {
  const repo = ctx.repo('range');
  const blob = randomBlob(100);
  await pushBlob(ctx, repo, blob);
  return { repo, blob };
}

export const pullCases: CaseDefinition[] = [
  {
    name: 'GET /v2/ → 200, or 401 with WWW-Authenticate before authenticating (end-1)',
    async run(ctx) {
      const anonymous = await ctx.client.request('GET', paths.base, { anonymous: true });
      expectStatus(anonymous, 200, 401);
      if (anonymous.status === 401) expectHeader(anonymous, 'WWW-Authenticate', /\S/);
      const reply = await ctx.client.request('GET', paths.base);
      if (reply.status === 401) fail(`401 even with the credentials given — check --user/--password (${reply.describe()})`);
      expectStatus(reply, 200);
      if (reply.header('Docker-Distribution-API-Version') === null) ctx.note('no Docker-Distribution-API-Version header (optional)');
    },
  },
  {
    name: 'GET manifest by tag → 200, exact bytes, Content-Type, Docker-Content-Digest (end-3)',
    async run(ctx) {
      const repo = ctx.repo('pull');
      const { manifest } = await pushImage(ctx, repo, { tag: 'pull-by-tag' });
      expectManifestReply(await getManifest(ctx.client, repo, 'pull-by-tag'), manifest);
    },
  },
  {
    name: 'GET manifest by digest → 200, exact bytes, Content-Type, Docker-Content-Digest (end-3)',
    async run(ctx) {
      const repo = ctx.repo('pull');
      const { manifest } = await pushImage(ctx, repo);
      expectManifestReply(await getManifest(ctx.client, repo, manifest.digest), manifest);
    },
  },
  {
    name: 'HEAD manifest by tag → 200, Content-Length, Docker-Content-Digest, no body (end-3)',
    async run(ctx) {
      const repo = ctx.repo('pull');
      const { manifest } = await pushImage(ctx, repo, { tag: 'head-by-tag' });
      const reply = await getManifest(ctx.client, repo, 'head-by-tag', 'HEAD');
      expectManifestReply(reply, manifest);
      await expectNoBodyOnTheWire(ctx, paths.manifest(repo, 'head-by-tag'), manifest.mediaType);
    },
  },
  {
    name: 'HEAD manifest by digest → 200, Content-Length, Docker-Content-Digest, no body (end-3)',
    async run(ctx) {
      const repo = ctx.repo('pull');
      const { manifest } = await pushImage(ctx, repo);
      expectManifestReply(await getManifest(ctx.client, repo, manifest.digest, 'HEAD'), manifest);
      await expectNoBodyOnTheWire(ctx, paths.manifest(repo, manifest.digest), manifest.mediaType);
    },
  },
  {
    name: 'GET manifest by unknown tag → 404 MANIFEST_UNKNOWN',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushImage(ctx, repo, { tag: 'known' });
      expectError(await getManifest(ctx.client, repo, `unknown-${uniqueId()}`), 404, 'MANIFEST_UNKNOWN');
    },
  },
  {
    name: 'GET manifest by unknown digest → 404 MANIFEST_UNKNOWN',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushImage(ctx, repo, { tag: 'known' });
      expectError(await getManifest(ctx.client, repo, unknownDigest()), 404, 'MANIFEST_UNKNOWN');
    },
  },
  {
    name: 'HEAD manifest by unknown tag → 404 without body',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushImage(ctx, repo, { tag: 'known' });
      const missing = `unknown-${uniqueId()}`;
      const reply = await getManifest(ctx.client, repo, missing, 'HEAD');
      expectStatus(reply, 404);
      expectEmptyBody(reply);
      await expectNoBodyOnTheWire(ctx, paths.manifest(repo, missing));
    },
  },
  {
    name: 'GET manifest in an unknown repository → 404 NAME_UNKNOWN or MANIFEST_UNKNOWN',
    async run(ctx) {
      const reply = await getManifest(ctx.client, ctx.repo('never-pushed'), 'latest');
      expectError(reply, 404, 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN');
    },
  },
  {
    name: 'GET blob → 200, exact bytes, Docker-Content-Digest, Content-Length (end-2)',
    async run(ctx) {
      const repo = ctx.repo('pull');
      const blob = randomBlob(2048);
      await pushBlob(ctx, repo, blob);
      const reply = await ctx.client.request('GET', paths.blob(repo, blob.digest));
      expectStatus(reply, 200);
      expectBytes(reply.body, blob.bytes, 'blob body');
      expectHeader(reply, 'Docker-Content-Digest', blob.digest);
      const length = reply.header('Content-Length');
      if (length !== null) check(length === String(blob.size), `Content-Length ${length}, expected ${blob.size}`);
    },
  },
  {
    name: 'HEAD blob → 200, Content-Length, Docker-Content-Digest, no body (end-2)',
    async run(ctx) {
      const repo = ctx.repo('pull');
      const blob = randomBlob(2048);
      await pushBlob(ctx, repo, blob);
      const reply = await ctx.client.request('HEAD', paths.blob(repo, blob.digest));
      expectStatus(reply, 200);
      expectHeader(reply, 'Content-Length', String(blob.size));
      expectHeader(reply, 'Docker-Content-Digest', blob.digest);
      await expectNoBodyOnTheWire(ctx, paths.blob(repo, blob.digest));
    },
  },
  {
    name: 'GET unknown blob → 404 BLOB_UNKNOWN',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushBlob(ctx, repo, randomBlob(16));
      expectError(await ctx.client.request('GET', paths.blob(repo, unknownDigest())), 404, 'BLOB_UNKNOWN');
    },
  },
  {
    name: 'HEAD unknown blob → 404 without body',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushBlob(ctx, repo, randomBlob(16));
      const path = paths.blob(repo, unknownDigest());
      const reply = await ctx.client.request('HEAD', path);
      expectStatus(reply, 404);
      expectEmptyBody(reply);
      await expectNoBodyOnTheWire(ctx, path);
    },
  },
  {
    name: 'GET blob pushed to another repository → 404 BLOB_UNKNOWN (no cross-repository leak)',
    async run(ctx) {
      const owner = ctx.repo('owner');
      const other = ctx.repo('other');
      const blob = randomBlob(64);
      await pushBlob(ctx, owner, blob);
      await pushBlob(ctx, other, randomBlob(16));
      expectError(await ctx.client.request('GET', paths.blob(other, blob.digest)), 404, 'BLOB_UNKNOWN');
    },
  },
  {
    name: 'blob Range bytes=0-9 → 206, Content-Range bytes 0-9/size',
    level: 'optional',
    async run(ctx) {
      const { repo, blob } = await pushRangeBlob(ctx);
      const reply = await rangeGet(ctx, repo, blob, '0-9');
      expectPartial(reply, blob, 0, 9);
      expectHeader(reply, 'Content-Length', '10');
    },
  },
  {
    name: 'blob Range bytes=10- (open-ended) → 206 with the rest of the blob',
    level: 'optional',
    async run(ctx) {
      const { repo, blob } = await pushRangeBlob(ctx);
      expectPartial(await rangeGet(ctx, repo, blob, '10-'), blob, 10, blob.size - 1);
    },
  },
  {
    name: 'blob Range bytes=-5 (suffix) → 206 with the last 5 bytes',
    level: 'optional',
    async run(ctx) {
      const { repo, blob } = await pushRangeBlob(ctx);
      expectPartial(await rangeGet(ctx, repo, blob, '-5'), blob, blob.size - 5, blob.size - 1);
    },
  },
  {
    name: 'blob Range with last-pos past the end → 206 clipped to the last byte',
    level: 'optional',
    async run(ctx) {
      const { repo, blob } = await pushRangeBlob(ctx);
      expectPartial(await rangeGet(ctx, repo, blob, `90-${blob.size * 10}`), blob, 90, blob.size - 1);
    },
  },
  {
    name: 'blob Range bytes=size- (unsatisfiable) → 416 with Content-Range bytes */size',
    level: 'optional',
    async run(ctx) {
      const { repo, blob } = await pushRangeBlob(ctx);
      const reply = await rangeGet(ctx, repo, blob, `${blob.size}-`);
      if (reply.status === 200) fail('Range was ignored (200 with the whole blob); RFC 9110 requires 416 for an unsatisfiable range');
      expectStatus(reply, 416);
      expectHeader(reply, 'Content-Range', `bytes */${blob.size}`);
      expectEnvelopeIfJson(reply);
    },
  },
  {
    name: 'GET blob by sha512 digest → 200, exact bytes, sha512 Docker-Content-Digest',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('sha512');
      const blob = randomBlob(512, 'sha512');
      const { location } = await startUpload(ctx, repo);
      const put = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
      if (put.status !== 201) fail(`pushing a sha512 blob was refused: ${put.describe()}`);
      ctx.cleanup(() => ctx.client.request('DELETE', paths.blob(repo, blob.digest)));
      const reply = await ctx.client.request('GET', paths.blob(repo, blob.digest));
      expectStatus(reply, 200);
      expectBytes(reply.body, blob.bytes, 'sha512 blob body');
      expectHeader(reply, 'Docker-Content-Digest', blob.digest);
    },
  },
  {
    // The spec only promises 404 for content that is not found and lists DIGEST_INVALID without
    // tying it to GET; answering 400 for a digest that cannot be parsed is berth's own rule.
    name: 'GET blob with a malformed digest → 400 DIGEST_INVALID',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushBlob(ctx, repo, randomBlob(16));
      expectError(await ctx.client.request('GET', paths.blob(repo, `sha256:${'z'.repeat(64)}`)), 400, 'DIGEST_INVALID');
    },
  },
  {
    name: 'GET blob with an unsupported digest algorithm (sha1) → 400 DIGEST_INVALID',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushBlob(ctx, repo, randomBlob(16));
      expectError(await ctx.client.request('GET', paths.blob(repo, `sha1:${'a'.repeat(40)}`)), 400, 'DIGEST_INVALID');
    },
  },
  {
    name: 'GET manifest with a malformed digest → 400 DIGEST_INVALID',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('pull');
      await pushImage(ctx, repo, { tag: 'known' });
      expectError(await getManifest(ctx.client, repo, `sha256:${'z'.repeat(64)}`), 400, 'DIGEST_INVALID');
    },
  },
];
