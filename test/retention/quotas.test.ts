/**
 * Quotas (`quotas.limits`) against a running berth, on local disk or S3 (TEST_STORAGE): a manifest
 * PUT that would take the repositories under a prefix past their limit is refused with DENIED
 * (403) and a message giving the limit, the usage and what the push adds; content shared between
 * repositories counts once; deletes give room back; repositories outside the prefix are not
 * counted; usage is in the metrics, in GET /quotas and on the UI's storage page; skopeo shows the
 * refusal.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../concurrency/stack.ts';
import { Client } from '../support/http.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { blob, descriptorOf, errorCode, imageManifest, json, mediaTypes, pushBlob, pushImage, putManifest, type PushedManifest } from '../support/oci.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

const limit = 4096;

interface QuotaJson {
  rule: string;
  prefix: string;
  limitBytes: number;
  usedBytes: number | null;
  countedAt: string | null;
}

/** What an image holds: its manifest's bytes and every blob it references. */
function bytesOf(m: { bytes: Uint8Array }): number {
  const doc = JSON.parse(Buffer.from(m.bytes).toString()) as { config: { size: number }; layers: Array<{ size: number }> };
  return m.bytes.byteLength + doc.config.size + doc.layers.reduce((n, l) => n + l.size, 0);
}

/** An image with one layer of `layerSize` random bytes, its blobs uploaded; the manifest not yet pushed. */
async function prepareImage(client: Client, repo: string, layerSize: number): Promise<{ bytes: Buffer }> {
  const config = json({ architecture: 'amd64', os: 'linux', nonce: blob(8).toString('hex') });
  const layer = blob(layerSize);
  await pushBlob(client, repo, config);
  await pushBlob(client, repo, layer);
  return { bytes: imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [descriptorOf(layer, mediaTypes.ociLayer)] }) };
}

describe(`quotas per repository prefix on ${process.env.TEST_STORAGE ?? 'fs'}`, () => {
  let stack: Stack;
  let client: Client;
  const layouts: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ quotas: { limits: [{ prefix: 'team', maxSize: limit }] } });
    client = new Client(stack.server.url);
  });
  afterAll(async () => {
    await stack?.stop();
    for (const dir of layouts) await rm(dir, { recursive: true, force: true });
  });

  const usage = async (): Promise<QuotaJson> => {
    const res = await fetch(`${stack.server.url}/quotas`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { quotas: QuotaJson[] };
    expect(body.quotas).toHaveLength(1);
    return body.quotas[0]!;
  };
  const metric = async (name: string): Promise<number | undefined> => {
    const text = await (await fetch(`${stack.server.url}/metrics`)).text();
    const m = new RegExp(`^${name}\\{prefix="team"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };

  let first: PushedManifest;

  it('counts what the prefix holds, shared content once', async () => {
    expect(await usage()).toMatchObject({ rule: 'quotas.limits[0]', prefix: 'team', limitBytes: limit, usedBytes: 0 });
    first = await pushImage(client, 'team/a', 'v1');
    expect((await usage()).usedBytes).toBe(bytesOf(first));
    // The same image in another repository under the prefix adds nothing.
    const doc = JSON.parse(first.bytes.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const d of [doc.config.digest, doc.layers[0]!.digest]) {
      expect((await client.request('POST', `/v2/team/b/blobs/uploads/?mount=${d}&from=team/a`)).status).toBe(201);
    }
    expect((await putManifest(client, 'team/b', 'v1', first.bytes, mediaTypes.ociManifest)).status).toBe(201);
    expect((await usage()).usedBytes).toBe(bytesOf(first));
    expect(await metric('berth_quota_used_bytes')).toBe(bytesOf(first));
    expect(await metric('berth_quota_limit_bytes')).toBe(limit);
  });

  it('refuses at manifest PUT a push that would pass the limit, saying why, and stores no tag', async () => {
    const big = await prepareImage(client, 'team/c', 3500);
    const res = await putManifest(client, 'team/c', 'v1', big.bytes, mediaTypes.ociManifest);
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'DENIED' });
    const message = res.json<{ errors: Array<{ message: string }> }>().errors[0]!.message;
    expect(message).toBe(`quota exceeded: repositories under team may hold 4KiB (quotas.limits[0]); they hold ${bytesOf(first)} bytes and this manifest would add ${bytesOf(big)} bytes`);
    expect((await client.request('HEAD', '/v2/team/c/manifests/v1', { headers: { Accept: mediaTypes.ociManifest } })).status).toBe(404);
    expect((await usage()).usedBytes).toBe(bytesOf(first));

    // Outside the prefix (teamx is not team/...) nothing is counted.
    const other = await prepareImage(client, 'teamx/c', 3500);
    expect((await putManifest(client, 'teamx/c', 'v1', other.bytes, mediaTypes.ociManifest)).status).toBe(201);

    // Deleting gives the room back: then the same push fits.
    expect((await client.request('DELETE', `/v2/team/a/manifests/${first.digest}`)).status).toBe(202);
    expect((await usage()).usedBytes, 'team/b still holds the image').toBe(bytesOf(first));
    expect((await client.request('DELETE', `/v2/team/b/manifests/${first.digest}`)).status).toBe(202);
    expect((await usage()).usedBytes).toBe(0);
    expect((await putManifest(client, 'team/c', 'v1', big.bytes, mediaTypes.ociManifest)).status).toBe(201);
    expect((await usage()).usedBytes).toBe(bytesOf(big));
  });

  it('shows the usage on the UI storage page', async () => {
    const page = await (await fetch(`${stack.server.url}/ui/storage`)).text();
    expect(page).toContain('<h2>Quotas</h2>');
    expect(page).toContain('<code>quotas.limits[0]</code>');
    expect(page).toContain('<td>4.0 KiB</td>');
  });

  it.skipIf(!hasSkopeo && !process.env.CI)('shows skopeo users the refusal', async () => {
    const layout = await makeImageLayout('big', [20_000]);
    layouts.push(layout.dir);
    const host = new URL(stack.server.url).host;
    const failure = await skopeo('copy', '--dest-tls-verify=false', `oci:${layout.dir}:big`, `docker://${host}/team/tool:v1`).then(
      () => undefined,
      (e: { stderr?: string }) => e.stderr ?? String(e),
    );
    expect(failure).toMatch(/denied: quota exceeded: repositories under team may hold 4KiB \(quotas\.limits\[0\]\)/);
  });
});
