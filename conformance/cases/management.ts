import { check, errorCodes, expectError, expectJsonObject, expectStatus, fail, isRecord } from '../assert.ts';
import type { Reply } from '../client.ts';
import { descriptorOf, emptyConfig, imageManifest, randomBlob, unknownDigest } from '../fixtures.ts';
import { getManifest, paths, pushBlob, pushImage, pushManifest } from '../operations.ts';
import type { CaseContext, CaseDefinition } from '../types.ts';

/**
 * Spec: Content Management — a delete succeeds with 202. A registry MAY disable deletes and then
 * answers 400 or 405; that is compliant, but berth deletes by default, so it is a failure here,
 * reported as such rather than as a bare status mismatch.
 */
function expectDeleted(reply: Reply): void {
  if (reply.status === 400 || reply.status === 405) {
    const codes = errorCodes(reply)?.join(',') ?? 'no error envelope';
    fail(`delete refused with ${reply.status} (${codes}) — the spec's answer when deletion is disabled; berth must delete: ${reply.describe()}`);
  }
  expectStatus(reply, 202);
}

function deleteManifest(ctx: CaseContext, repo: string, reference: string): Promise<Reply> {
  return ctx.client.request('DELETE', paths.manifest(repo, reference));
}

export const managementCases: CaseDefinition[] = [
  {
    name: 'DELETE tag → 202; the tag then 404s, the manifest is still pullable by digest (end-9)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-tag');
      const { manifest } = await pushImage(ctx, repo, { tag: 'doomed' });
      expectDeleted(await deleteManifest(ctx, repo, 'doomed'));
      expectError(await getManifest(ctx.client, repo, 'doomed'), 404, 'MANIFEST_UNKNOWN');
      expectStatus(await getManifest(ctx.client, repo, manifest.digest), 200);
    },
  },
  {
    name: 'deleted tag disappears from the tags list',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-tag');
      const { manifest } = await pushImage(ctx, repo, { tag: 'keep' });
      await pushManifest(ctx, repo, 'drop', manifest);
      expectDeleted(await deleteManifest(ctx, repo, 'drop'));
      const reply = await ctx.client.request('GET', paths.tags(repo));
      expectStatus(reply, 200);
      const tags = expectJsonObject(reply)['tags'];
      check(JSON.stringify(tags) === JSON.stringify(['keep']), `tags are ${JSON.stringify(tags)}, expected ["keep"]`);
    },
  },
  {
    name: 'DELETE manifest by digest → 202; it and its tags then 404 MANIFEST_UNKNOWN (end-9)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-manifest');
      const { manifest } = await pushImage(ctx, repo, { tag: 'tagged' });
      expectDeleted(await deleteManifest(ctx, repo, manifest.digest));
      expectError(await getManifest(ctx.client, repo, manifest.digest), 404, 'MANIFEST_UNKNOWN');
      expectError(await getManifest(ctx.client, repo, 'tagged'), 404, 'MANIFEST_UNKNOWN');
    },
  },
  {
    name: 'DELETE blob → 202, then GET → 404 BLOB_UNKNOWN (end-10)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-blob');
      const blob = randomBlob(512);
      await pushBlob(ctx, repo, blob);
      expectDeleted(await ctx.client.request('DELETE', paths.blob(repo, blob.digest)));
      expectError(await ctx.client.request('GET', paths.blob(repo, blob.digest)), 404, 'BLOB_UNKNOWN');
      expectStatus(await ctx.client.request('HEAD', paths.blob(repo, blob.digest)), 404);
    },
  },
  {
    name: "deleted manifest disappears from its subject's referrers list",
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-referrer');
      const { manifest: subject } = await pushImage(ctx, repo, { tag: 'subject' });
      const config = emptyConfig();
      const layer = randomBlob(64);
      await pushBlob(ctx, repo, config);
      await pushBlob(ctx, repo, layer);
      const artifact = imageManifest({ config, layers: [layer], subject: descriptorOf(subject), artifactType: 'application/vnd.conformance.note' });
      await pushManifest(ctx, repo, artifact.digest, artifact);
      const listed = async (): Promise<boolean> => {
        const reply = await ctx.client.request('GET', paths.referrers(repo, subject.digest));
        expectStatus(reply, 200);
        const manifests = expectJsonObject(reply)['manifests'];
        if (!Array.isArray(manifests)) fail(`referrers "manifests" is ${JSON.stringify(manifests)}`);
        return manifests.some((entry) => isRecord(entry) && entry['digest'] === artifact.digest);
      };
      check(await listed(), 'the referrer is not listed before the delete');
      expectDeleted(await deleteManifest(ctx, repo, artifact.digest));
      check(!(await listed()), 'the deleted referrer is still listed');
    },
  },
  {
    name: 'DELETE of an unknown manifest digest → 404 MANIFEST_UNKNOWN',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-unknown');
      await pushImage(ctx, repo, { tag: 'present' });
      expectError(await deleteManifest(ctx, repo, unknownDigest()), 404, 'MANIFEST_UNKNOWN');
    },
  },
  {
    name: 'DELETE of an unknown tag → 404 MANIFEST_UNKNOWN',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-unknown');
      await pushImage(ctx, repo, { tag: 'present' });
      expectError(await deleteManifest(ctx, repo, 'absent'), 404, 'MANIFEST_UNKNOWN');
    },
  },
  {
    name: 'DELETE of an unknown blob → 404 BLOB_UNKNOWN',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('delete-unknown');
      await pushBlob(ctx, repo, randomBlob(16));
      expectError(await ctx.client.request('DELETE', paths.blob(repo, unknownDigest())), 404, 'BLOB_UNKNOWN');
    },
  },
  {
    name: 'DELETE manifest in an unknown repository → 404 NAME_UNKNOWN or MANIFEST_UNKNOWN',
    level: 'optional',
    async run(ctx) {
      expectError(await deleteManifest(ctx, ctx.repo('never-pushed'), unknownDigest()), 404, 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN');
    },
  },
];
