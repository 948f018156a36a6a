import { check, expectBytes, expectContentType, expectError, expectHeader, expectStatus, fail } from '../assert.ts';
import type { Reply } from '../client.ts';
import {
  MediaTypes,
  content,
  descriptorOf,
  dockerManifest,
  dockerManifestList,
  emptyConfig,
  imageConfig,
  imageIndex,
  imageManifest,
  manifestOfSize,
  randomBlob,
  unknownDigest,
  utf8,
  type Content,
} from '../fixtures.ts';
import { getManifest, locationOf, paths, pushBlob, pushImage, pushManifest, putManifest } from '../operations.ts';
import type { CaseContext, CaseDefinition } from '../types.ts';

const MiB = 1024 * 1024;

/** Spec: a PUT by digest or tag MUST answer 201 with Location, and the digest of what was stored. */
/** PUTs a manifest that must be accepted (deleted after the case), checks the 201 and, unless told not to, the GET. */
async function pushAccepted(ctx: CaseContext, repo: string, reference: string, manifest: Content, opts: { served?: boolean } = {}): Promise<Reply> {
  const reply = await putManifest(ctx.client, repo, reference, manifest);
  ctx.cleanup(() => ctx.client.request('DELETE', paths.manifest(repo, manifest.digest)));
  await expectManifestCreated(ctx, reply, manifest);
  if (opts.served !== false) await expectManifestServed(ctx, repo, reference, manifest);
  return reply;
}

async function expectManifestCreated(ctx: CaseContext, reply: Reply, manifest: Content): Promise<void> {
  expectStatus(reply, 201);
  const location = locationOf(ctx.client, reply);
  expectHeader(reply, 'Docker-Content-Digest', manifest.digest);
  const pulled = await ctx.client.request('GET', location, { headers: { Accept: manifest.mediaType } });
  expectStatus(pulled, 200);
  expectBytes(pulled.body, manifest.bytes, `manifest at the returned Location ${location.pathname}`);
}

async function expectManifestServed(ctx: CaseContext, repo: string, reference: string, manifest: Content): Promise<void> {
  const reply = await getManifest(ctx.client, repo, reference);
  expectStatus(reply, 200);
  expectContentType(reply, manifest.mediaType);
  expectHeader(reply, 'Docker-Content-Digest', manifest.digest);
  expectBytes(reply.body, manifest.bytes, `manifest ${reference}`);
}

/** Values of a header that may be repeated or comma-joined (fetch joins repeats with ", "). */
function headerList(reply: Reply, name: string): string[] {
  return (reply.header(name) ?? '').split(',').map((v) => v.trim()).filter(Boolean);
}

async function pushBlobsOf(ctx: CaseContext, repo: string, ...blobs: Content[]): Promise<void> {
  for (const blob of blobs) await pushBlob(ctx, repo, blob);
}

/** Spec: Push — pushing manifests. */
export const manifestPushCases: CaseDefinition[] = [
  {
    name: 'manifest PUT by tag → 201 with Location and Docker-Content-Digest (end-7)',
    async run(ctx) {
      const repo = ctx.repo('manifest');
      const config = imageConfig();
      const layer = randomBlob(512);
      await pushBlobsOf(ctx, repo, config, layer);
      const manifest = imageManifest({ config, layers: [layer] });
      await pushAccepted(ctx, repo, 'by-tag', manifest);
    },
  },
  {
    name: 'manifest PUT by digest → 201 with Location and Docker-Content-Digest (end-7)',
    async run(ctx) {
      const repo = ctx.repo('manifest');
      const config = imageConfig();
      const layer = randomBlob(512);
      await pushBlobsOf(ctx, repo, config, layer);
      const manifest = imageManifest({ config, layers: [layer] });
      await pushAccepted(ctx, repo, manifest.digest, manifest, { served: false });
    },
  },
  {
    name: 'manifest PUT to a digest that does not match the body → 400 DIGEST_INVALID',
    async run(ctx) {
      const repo = ctx.repo('manifest');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = imageManifest({ config, layers: [] });
      const wrong = unknownDigest();
      expectError(await putManifest(ctx.client, repo, wrong, manifest), 400, 'DIGEST_INVALID');
      expectStatus(await getManifest(ctx.client, repo, wrong, 'HEAD'), 404);
    },
  },
  {
    // Spec: a registry MAY reject a manifest whose blobs are missing; if it does, the code MUST be
    // MANIFEST_BLOB_UNKNOWN. berth rejects, so accepting (201) is reported as a failure here.
    name: 'manifest referencing a missing blob → 400 MANIFEST_BLOB_UNKNOWN (spec: MAY reject)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('manifest');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = imageManifest({ config, layers: [randomBlob(256)] });
      const reply = await putManifest(ctx.client, repo, 'missing-layer', manifest);
      if (reply.status === 201) {
        ctx.cleanup(() => ctx.client.request('DELETE', paths.manifest(repo, manifest.digest)));
        fail('accepted (201) a manifest whose layer was never pushed; the spec allows this, berth must refuse it');
      }
      expectError(reply, 400, 'MANIFEST_BLOB_UNKNOWN');
    },
  },
  {
    name: 'manifest PUT with invalid JSON → 400 MANIFEST_INVALID',
    async run(ctx) {
      const repo = ctx.repo('manifest');
      await pushBlob(ctx, repo, randomBlob(16));
      const garbage = content(utf8('{"schemaVersion": 2, "mediaType": '), MediaTypes.ociManifest);
      expectError(await putManifest(ctx.client, repo, 'garbage', garbage), 400, 'MANIFEST_INVALID');
    },
  },
  {
    name: 'manifest PUT to an invalid tag ("-bad") → 400',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('manifest');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = imageManifest({ config, layers: [] });
      const reply = await putManifest(ctx.client, repo, '-bad', manifest);
      if (reply.status === 201) ctx.cleanup(() => ctx.client.request('DELETE', paths.manifest(repo, manifest.digest)));
      // Spec: a tag MUST match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}; the spec names no code for this.
      expectError(reply, 400);
    },
  },
  {
    name: 'upload to an invalid repository name (upper case) → 400 NAME_INVALID',
    level: 'berth',
    async run(ctx) {
      const reply = await ctx.client.request('POST', paths.uploads(`${ctx.repo('name')}/Upper`), { body: new Uint8Array(0) });
      if (reply.status === 202) ctx.cleanup(() => ctx.client.request('DELETE', locationOf(ctx.client, reply)));
      expectError(reply, 400, 'NAME_INVALID');
    },
  },
  {
    name: 'manifest PUT by digest ?tag=a&tag=b → 201, OCI-Tag for each tag, both tags resolve (spec: MAY)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('tag-params');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = imageManifest({ config, layers: [] });
      const tags = ['first', 'second'];
      const reply = await putManifest(ctx.client, repo, manifest.digest, manifest, { tag: tags });
      ctx.cleanup(() => ctx.client.request('DELETE', paths.manifest(repo, manifest.digest)));
      await expectManifestCreated(ctx, reply, manifest);
      const echoed = headerList(reply, 'OCI-Tag');
      if (echoed.length === 0) fail('no OCI-Tag header: the tag parameters were ignored');
      check(
        tags.every((tag) => echoed.includes(tag)) && echoed.length === tags.length,
        `OCI-Tag lists [${echoed.join(', ')}], expected one per tag: [${tags.join(', ')}]`,
      );
      for (const tag of tags) await expectManifestServed(ctx, repo, tag, manifest);
    },
  },
  {
    name: 'manifest with a subject → 201 with OCI-Subject = the subject digest (subject need not exist; with the referrers API)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('subject');
      const config = emptyConfig();
      const layer = randomBlob(128);
      await pushBlobsOf(ctx, repo, config, layer);
      const subject = { mediaType: MediaTypes.ociManifest, digest: unknownDigest(), size: 1234 };
      const artifact = imageManifest({ config, layers: [layer], subject, artifactType: 'application/vnd.conformance.signature' });
      const reply = await pushAccepted(ctx, repo, artifact.digest, artifact, { served: false });
      expectHeader(reply, 'OCI-Subject', subject.digest);
    },
  },
  {
    name: 'OCI image index referencing pushed manifests → 201; served with the index media type',
    async run(ctx) {
      const repo = ctx.repo('index');
      const amd64 = await pushImage(ctx, repo);
      const arm64 = await pushImage(ctx, repo);
      const index = imageIndex({
        manifests: [
          descriptorOf(amd64.manifest, { platform: { os: 'linux', architecture: 'amd64' } }),
          descriptorOf(arm64.manifest, { platform: { os: 'linux', architecture: 'arm64' } }),
        ],
      });
      await pushAccepted(ctx, repo, 'multi-arch', index);
    },
  },
  {
    name: 'Docker schema2 manifest → 201; served with the Docker media type and exact bytes',
    async run(ctx) {
      const repo = ctx.repo('docker');
      const config = imageConfig(MediaTypes.dockerConfig);
      const layer = randomBlob(512, 'sha256', MediaTypes.dockerLayer);
      await pushBlobsOf(ctx, repo, config, layer);
      const manifest = dockerManifest(config, [layer]);
      await pushAccepted(ctx, repo, 'docker', manifest);
    },
  },
  {
    name: 'Docker manifest list → 201; served with the Docker list media type',
    async run(ctx) {
      const repo = ctx.repo('docker');
      const config = imageConfig(MediaTypes.dockerConfig);
      const layer = randomBlob(512, 'sha256', MediaTypes.dockerLayer);
      await pushBlobsOf(ctx, repo, config, layer);
      const image = dockerManifest(config, [layer]);
      await pushManifest(ctx, repo, image.digest, image);
      const list = dockerManifestList([descriptorOf(image, { platform: { os: 'linux', architecture: 'amd64' } })]);
      await pushAccepted(ctx, repo, 'docker-list', list);
    },
  },
  {
    name: 'manifest PUT to an existing tag moves the tag to the new manifest',
    async run(ctx) {
      const repo = ctx.repo('retag');
      await pushImage(ctx, repo, { tag: 'moving' });
      const second = await pushImage(ctx, repo, { tag: 'moving' });
      await expectManifestServed(ctx, repo, 'moving', second.manifest);
    },
  },
  {
    name: 'manifest PUT by sha512 digest → 201; pullable by that digest',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('sha512');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = imageManifest({ config, layers: [], algorithm: 'sha512' });
      await pushAccepted(ctx, repo, manifest.digest, manifest);
    },
  },
  {
    name: 'manifest of exactly 4 MiB → 201 (registries SHOULD accept at least 4 MiB)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('large');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = manifestOfSize(config, [], 4 * MiB);
      await pushAccepted(ctx, repo, 'four-mib', manifest, { served: false });
    },
  },
  {
    name: 'manifest of 4 MiB + 1 byte → 413 (berth\'s default limit)',
    level: 'berth',
    async run(ctx) {
      const repo = ctx.repo('large');
      const config = imageConfig();
      await pushBlob(ctx, repo, config);
      const manifest = manifestOfSize(config, [], 4 * MiB + 1);
      const reply = await putManifest(ctx.client, repo, 'too-big', manifest);
      if (reply.status === 201) {
        ctx.cleanup(() => ctx.client.request('DELETE', paths.manifest(repo, manifest.digest)));
        fail('accepted (201) a manifest over 4 MiB; registries SHOULD enforce a limit and answer 413');
      }
      expectError(reply, 413, 'SIZE_INVALID', 'MANIFEST_INVALID');
    },
  },
];
