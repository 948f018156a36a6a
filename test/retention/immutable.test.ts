/**
 * Immutable tags (`tags.immutable`) against a running berth, on local disk or S3 (TEST_STORAGE):
 * moving or deleting a protected tag, or deleting the manifest it points at, is refused with
 * DENIED (409) naming the rule; pushing the same manifest again goes through; other tags and
 * repositories are untouched. skopeo, a real client, shows the refusal's message to its user.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Reply } from '../support/http.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { errorCode, json, mediaTypes, pushImage, putManifest } from '../support/oci.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';
import { startStack, type Stack } from '../concurrency/stack.ts';

const config = {
  tags: {
    immutable: [
      { repositories: ['team/**'], patterns: ['v\\d+\\.\\d+\\.\\d+'] },
      { repositories: ['releases/*'], semver: '>=1' },
    ],
  },
};

function expectRefused(res: Reply, rule: string, tag: string): string {
  expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 409, code: 'DENIED' });
  const message = res.json<{ errors: Array<{ message: string }> }>().errors[0]!.message;
  expect(message).toContain(`tag ${tag}`);
  expect(message).toContain(rule);
  expect(message).not.toMatch(/repositories\/|_tags|\/tmp\//);
  return message;
}

describe(`immutable tags (tags.immutable) on ${process.env.TEST_STORAGE ?? 'fs'}`, () => {
  let stack: Stack;
  let client: Client;

  beforeAll(async () => {
    stack = await startStack(config);
    client = new Client(stack.server.url);
  });
  const layouts: string[] = [];
  afterAll(async () => {
    await stack?.stop();
    for (const dir of layouts) await rm(dir, { recursive: true, force: true });
  });

  const target = async (repo: string, tag: string): Promise<string | undefined> =>
    (await client.request('HEAD', `/v2/${repo}/manifests/${tag}`, { headers: { Accept: mediaTypes.ociManifest } })).headers['docker-content-digest'] as string | undefined;

  it('refuses moving a protected tag, names the rule, and keeps the tag where it was', async () => {
    const first = await pushImage(client, 'team/app', 'v1.2.0');
    const again = await putManifest(client, 'team/app', 'v1.2.0', first.bytes, mediaTypes.ociManifest);
    expect(again.status, 'the same manifest again is no move').toBe(201);

    const other = await pushImage(client, 'team/app', 'scratch');
    const moved = await putManifest(client, 'team/app', 'v1.2.0', other.bytes, mediaTypes.ociManifest);
    const message = expectRefused(moved, 'tags.immutable[0]', 'v1.2.0');
    expect(message).toContain(first.digest);
    expect(await target('team/app', 'v1.2.0')).toBe(first.digest);

    // The OCI 1.1 tag parameters are checked too: a digest push that would move it.
    const byDigest = await client.request('PUT', `/v2/team/app/manifests/${other.digest}?tag=v1.2.0&tag=fine`, { headers: { 'Content-Type': mediaTypes.ociManifest }, body: other.bytes });
    expectRefused(byDigest, 'tags.immutable[0]', 'v1.2.0');
    expect(await target('team/app', 'fine')).toBeUndefined();
    expect(await target('team/app', 'v1.2.0')).toBe(first.digest);
  });

  it('refuses deleting a protected tag or the manifest it points at', async () => {
    const image = await pushImage(client, 'team/lib', 'v2.0.0');
    expectRefused(await client.request('DELETE', '/v2/team/lib/manifests/v2.0.0'), 'tags.immutable[0]', 'v2.0.0');
    expectRefused(await client.request('DELETE', `/v2/team/lib/manifests/${image.digest}`), 'tags.immutable[0]', 'v2.0.0');
    expect(await target('team/lib', 'v2.0.0')).toBe(image.digest);
    // A protected name that does not exist is simply unknown.
    const missing = await client.request('DELETE', '/v2/team/lib/manifests/v9.9.9');
    expect({ status: missing.status, code: errorCode(missing) }).toEqual({ status: 404, code: 'MANIFEST_UNKNOWN' });
  });

  it('leaves other tags and repositories mutable, and matches semver ranges', async () => {
    await pushImage(client, 'team/app', 'latest');
    const next = await pushImage(client, 'team/app', 'scratch-2');
    expect((await putManifest(client, 'team/app', 'latest', next.bytes, mediaTypes.ociManifest)).status).toBe(201);
    expect((await client.request('DELETE', '/v2/team/app/manifests/latest')).status).toBe(202);
    // Not a whole version (no semver match), and an x.y.z outside team/: both mutable.
    await pushImage(client, 'team/app', 'v1.2');
    expect((await client.request('DELETE', '/v2/team/app/manifests/v1.2')).status).toBe(202);
    await pushImage(client, 'other/app', 'v1.0.0');
    expect((await client.request('DELETE', '/v2/other/app/manifests/v1.0.0')).status).toBe(202);

    const release = await pushImage(client, 'releases/cli', '1.4.0');
    const pre = await pushImage(client, 'releases/cli', '0.9.0');
    const moved = await putManifest(client, 'releases/cli', '1.4.0', pre.bytes, mediaTypes.ociManifest);
    expectRefused(moved, 'tags.immutable[1]', '1.4.0');
    expect(await target('releases/cli', '1.4.0')).toBe(release.digest);
    expect((await putManifest(client, 'releases/cli', '0.9.0', release.bytes, mediaTypes.ociManifest)).status, '0.9.0 is below the range').toBe(201);
  });

  it('still refuses bad input with its own error before any rule applies', async () => {
    const bad = await client.request('PUT', '/v2/team/app/manifests/v1.2.0', { headers: { 'Content-Type': mediaTypes.ociManifest }, body: json({ not: 'a manifest' }) });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    const invalidTag = await client.request('PUT', `/v2/team/app/manifests/sha256:${'0'.repeat(64)}?tag=..%2F..%2Fx`, { headers: { 'Content-Type': mediaTypes.ociManifest }, body: json({}) });
    expect(invalidTag.status).toBeGreaterThanOrEqual(400);
    expect(invalidTag.status).toBeLessThan(500);
  });

  it.skipIf(!hasSkopeo && !process.env.CI)('shows skopeo users the refusal and the rule', async () => {
    const host = new URL(stack.server.url).host;
    const one = await makeImageLayout('one', [20_000]);
    const two = await makeImageLayout('two', [30_000]);
    layouts.push(one.dir, two.dir);
    await skopeo('copy', '--dest-tls-verify=false', `oci:${one.dir}:one`, `docker://${host}/team/tool:v3.0.0`);
    const failure = await skopeo('copy', '--dest-tls-verify=false', `oci:${two.dir}:two`, `docker://${host}/team/tool:v3.0.0`).then(
      () => undefined,
      (e: { stderr?: string }) => e.stderr ?? String(e),
    );
    expect(failure, 'skopeo must fail').toBeDefined();
    expect(failure).toMatch(/denied: tag v3\.0\.0 in team\/tool is immutable \(tags\.immutable\[0\]/);
    // Copying the same image again is no move.
    await skopeo('copy', '--dest-tls-verify=false', `oci:${one.dir}:one`, `docker://${host}/team/tool:v3.0.0`);
  });
});
