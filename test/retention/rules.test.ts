/**
 * Retention rules against a running berth, on local disk or S3 (TEST_STORAGE): `berth retention
 * --dry-run` explains what would go and the rule that decided, `berth retention` deletes it (tags,
 * manifests, referrers with their subject, untagged manifests past the window, the bytes only they
 * used) and nothing else; the server applies the rules on its own schedule, weighing pull times
 * that cost no storage write per pull and survive a restart.
 *
 * Times come from storage (S3 keeps whole seconds), so where order matters the pushes are a little
 * over a second apart, and the untagged window is two seconds, waited out before the pass.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../concurrency/stack.ts';
import { Client } from '../support/http.ts';
import { descriptorOf, digestOf, imageManifest, json, mediaTypes, pushBlob, pushImage, pushManifest, type ImageParts, type PushedManifest } from '../support/oci.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const accept = { Accept: `${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}` };
const blobKey = (digest: string): string => `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
const cosignTag = (digest: string): string => `${digest.replace(':', '-')}.sig`;

/** A manifest pushed by digest, untagged: an SBOM with a subject, or an image nothing tags. */
async function pushUntagged(client: Client, repo: string, parts: Partial<ImageParts> = {}): Promise<PushedManifest> {
  const config = json({ nonce: randomBytes(8).toString('hex') });
  await pushBlob(client, repo, config);
  const bytes = imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), ...parts });
  return pushManifest(client, repo, digestOf(bytes), bytes);
}

async function status(client: Client, repo: string, reference: string): Promise<number> {
  return (await client.request('HEAD', `/v2/${repo}/manifests/${reference}`, { headers: accept })).status;
}

/** The layer blob of a pushed image (its one layer). */
const layerOf = (m: PushedManifest): string => (JSON.parse(m.bytes.toString()) as { layers: Array<{ digest: string }> }).layers[0]!.digest;

describe(`retention rules with berth retention on ${process.env.TEST_STORAGE ?? 'fs'}`, () => {
  let stack: Stack;
  let client: Client;
  const pushed: Record<string, PushedManifest> = {};

  beforeAll(async () => {
    stack = await startStack({
      gc: { grace: '0s' },
      tags: { immutable: [{ repositories: ['ci/**'], patterns: ['pinned'] }] },
      retention: {
        rules: [
          {
            repositories: ['ci/**'],
            keepTags: [{ patterns: ['main-.*'], mostRecentlyPushedCount: 2 }, { semver: '>=1.0.0' }],
            dropTags: [{ patterns: ['tmp-.*'] }],
            deleteUntaggedAfter: '2s',
          },
        ],
      },
    });
    client = new Client(stack.server.url);
    pushed['main-1'] = await pushImage(client, 'ci/app', 'main-1');
    pushed.sbom1 = await pushUntagged(client, 'ci/app', { subject: pushed['main-1'].descriptor, artifactType: 'application/spdx+json' });
    pushed.sig1 = await pushImage(client, 'ci/app', cosignTag(pushed['main-1'].digest));
    await sleep(1_100);
    pushed['main-2'] = await pushImage(client, 'ci/app', 'main-2');
    await sleep(1_100);
    pushed['main-3'] = await pushImage(client, 'ci/app', 'main-3');
    pushed.sig3 = await pushImage(client, 'ci/app', cosignTag(pushed['main-3'].digest));
    for (const tag of ['0.9.0', '1.0.0', 'tmp-1', 'pinned', 'feature-x']) pushed[tag] = await pushImage(client, 'ci/app', tag);
    pushed.orphan = await pushUntagged(client, 'ci/app');
    pushed.other = await pushImage(client, 'team/other', 'old');
    // Past the untagged window: the orphan is due; everything else is decided by tags.
    await sleep(2_500);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('explains on a dry run what would go, and the rule and reason, deleting nothing', async () => {
    const out = await stack.berth('retention', '--dry-run', '--explain');
    const lines = out.trim().split('\n');
    const line = (prefix: string): string | undefined => lines.find((l) => l.startsWith(prefix));
    const d = (k: string): string => pushed[k]!.digest;

    expect(line(`would delete tag ci/app:main-1 (${d('main-1')}): retention.rules[0]: picked by keepTags[0] (patterns main-.*), none of whose conditions holds (mostRecentlyPushedCount 2): pushed 20`)).toBeDefined();
    expect(line(`would delete tag ci/app:${cosignTag(d('main-1'))} (${d('sig1')}): retention.rules[0]: follows ${d('main-1')}, which goes`)).toBeDefined();
    expect(line(`would delete tag ci/app:0.9.0 (${d('0.9.0')}): retention.rules[0]: picked by no keepTags entry`)).toBeDefined();
    expect(line(`would delete tag ci/app:tmp-1 (${d('tmp-1')}): retention.rules[0]: picked by dropTags[0] (patterns tmp-.*)`)).toBeDefined();
    expect(line(`would delete tag ci/app:feature-x (${d('feature-x')}): retention.rules[0]: picked by no keepTags entry`)).toBeDefined();
    expect(line(`would delete manifest ci/app@${d('main-1')}: retention.rules[0]: its tag main-1 goes`)).toBeDefined();
    expect(line(`would delete manifest ci/app@${d('sbom1')}: retention.rules[0]: its subject ${d('main-1')} goes`)).toBeDefined();
    expect(line(`would delete manifest ci/app@${d('orphan')}: retention.rules[0]: untagged, pushed more than 2s ago`)).toBeDefined();
    expect(line(`keep tag ci/app:main-3 (${d('main-3')}): retention.rules[0]: keepTags[0] (patterns main-.*): mostRecentlyPushedCount 2`)).toBeDefined();
    expect(line(`keep tag ci/app:1.0.0 (${d('1.0.0')}): retention.rules[0]: picked by keepTags[1] (semver >=1.0.0)`)).toBeDefined();
    expect(line(`keep tag ci/app:pinned (${d('pinned')}): retention.rules[0]: immutable (tags.immutable[0])`)).toBeDefined();
    expect(line(`keep tag ci/app:${cosignTag(d('main-3'))} (${d('sig3')}): retention.rules[0]: follows ${d('main-3')}, which stays`)).toBeDefined();
    expect(lines.filter((l) => l.startsWith('would delete'))).toHaveLength(5 + 7);
    expect(lines.at(-1)).toMatch(/^dry run: 1 repositories under a rule; would delete 5 tags, 7 manifests, [1-9]\d* blobs \(\d+\.\d MiB\)$/);
    expect(out).not.toContain('team/other');

    for (const ref of ['main-1', '0.9.0', d('orphan'), d('sbom1')]) expect(await status(client, 'ci/app', ref), ref).toBe(200);
  });

  it('deletes what the rules expire, with referrers and bytes only they used, and keeps the rest', async () => {
    const out = await stack.berth('retention');
    expect(out.trim().split('\n').at(-1)).toMatch(/^1 repositories under a rule; deleted 5 tags, 7 manifests, [1-9]\d* blobs/);
    expect(out).toContain(`deleted manifest ci/app@${pushed.sbom1!.digest}: retention.rules[0]: its subject ${pushed['main-1']!.digest} goes`);
    // The command is another process: the server's cache (exact for its own writes on local disk)
    // learns of them when it starts again, as after `berth gc`.
    await stack.restartServer();
    client = new Client(stack.server.url);

    for (const tag of ['main-1', cosignTag(pushed['main-1']!.digest), '0.9.0', 'tmp-1', 'feature-x']) expect(await status(client, 'ci/app', tag), tag).toBe(404);
    for (const k of ['main-1', 'sbom1', 'sig1', 'orphan', '0.9.0']) expect(await status(client, 'ci/app', pushed[k]!.digest), k).toBe(404);
    for (const tag of ['main-2', 'main-3', cosignTag(pushed['main-3']!.digest), '1.0.0', 'pinned']) expect(await status(client, 'ci/app', tag), tag).toBe(200);
    expect(await status(client, 'team/other', 'old')).toBe(200);

    // The bytes only deleted images used are gone (gc.grace is 0s here); what kept images use is not.
    expect(await stack.store.exists(blobKey(layerOf(pushed['main-1']!)))).toBe(false);
    expect(await stack.store.exists(blobKey(layerOf(pushed['main-2']!)))).toBe(true);
    const blob = await client.request('GET', `/v2/ci/app/blobs/${layerOf(pushed['main-3']!)}`);
    expect(blob.status).toBe(200);

    // Nothing is left to do.
    expect((await stack.berth('retention', '--dry-run')).trim()).toMatch(/would delete 0 tags, 0 manifests, 0 blobs/);
  });

  it('refuses to run without rules, and flags it does not know', async () => {
    const bad = await stack.berth('retention', '--soon').catch((e: { code?: number; stderr?: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('berth retention:') });
  });
});

/** `berth_storage_operation_duration_seconds_count{...operation="put"}`: storage writes so far. */
async function storagePuts(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^berth_storage_operation_duration_seconds_count\{[^}]*operation="put"[^}]*\} (\d+)$/m.exec(text);
  return Number(m?.[1] ?? 0);
}

describe(`retention rules run by the server, weighing recorded pulls, on ${process.env.TEST_STORAGE ?? 'fs'}`, () => {
  let stack: Stack;
  /** CloudEvents a webhook receiver got: the server announces what its rules deleted. */
  const events: Array<{ type: string; subject: string; data: Record<string, unknown> }> = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      events.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof events)[number]);
      res.writeHead(204).end();
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    stack = await startStack({ retention: { pullsFlushInterval: '1h' } });
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('records pulls with no storage write each, keeps them across a restart, and expires the tags pulled least', async () => {
    const client = new Client(stack.server.url);
    const images: Record<string, PushedManifest> = {};
    for (const tag of ['a', 'b', 'c']) images[tag] = await pushImage(client, 'svc/app', tag);

    const before = await storagePuts(stack.server.url);
    for (let i = 0; i < 20; i++) expect((await client.request('GET', '/v2/svc/app/manifests/a', { headers: accept })).status).toBe(200);
    // As containerd pulls: the tag resolved with a HEAD (not a pull), the manifest fetched by digest.
    expect(await status(client, 'svc/app', 'c')).toBe(200);
    expect((await client.request('GET', `/v2/svc/app/manifests/${images.c!.digest}`, { headers: accept })).status).toBe(200);
    expect(await storagePuts(stack.server.url), 'a pull writes nothing to storage').toBe(before);
    expect(await stack.store.exists('repositories/svc/app/_pulls')).toBe(false);

    // The UI already shows it, from memory.
    const page = await (await fetch(`${stack.server.url}/ui/repo/svc/app`)).text();
    expect(page).toContain('<th scope="col">Pushed</th>');
    expect(page).toContain('<th scope="col">Last pulled</th>');

    // Stopping writes the times; the server after the restart applies rules every second.
    await stack.restartServer({
      gc: { grace: '0s' },
      retention: { interval: '1s', rules: [{ repositories: ['svc/**'], keepTags: [{ mostRecentlyPulledCount: 2 }] }] },
      events: { webhooks: [{ name: 'ops', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, actions: ['delete'] }] },
    });
    expect(await stack.store.exists('repositories/svc/app/_pulls')).toBe(true);
    const after = new Client(stack.server.url);
    for (let waited = 0; (await status(after, 'svc/app', 'b')) !== 404; waited += 250) {
      if (waited > 60_000) throw new Error(`the scheduled rules did not delete svc/app:b:\n${stack.server.logs()}`);
      await sleep(250);
    }
    expect(await status(after, 'svc/app', 'a')).toBe(200);
    expect(await status(after, 'svc/app', 'c')).toBe(200);
    expect(stack.server.logs()).toMatch(/"msg":"retention deleted".*"tag":"b".*"rule":"retention\.rules\[0\]","reason":"picked by keepTags\[0\] \(every tag\), none of whose conditions holds \(mostRecentlyPulledCount 2\)/);
    // The storage page lists the run (the page keeps the last twenty runs: look before they push it out).
    const run = /<td>retention rules<\/td><td><time [^>]+>[^<]+<\/time><\/td><td><span class="ok">ok<\/span><\/td><td>tags deleted: 1, manifests deleted: 1, bytes freed: [^,]+, repositories: 1<\/td>/;
    let storage = '';
    for (let waited = 0; !run.test(storage); waited += 250) {
      if (waited > 15_000) throw new Error(`no retention run that deleted b on the storage page:\n${storage}`);
      storage = await (await fetch(`${stack.server.url}/ui/storage`)).text();
      await sleep(250);
    }

    // Webhooks hear of it too, with the rule that decided: the tag, then its manifest.
    const manifestGone = (): boolean => events.some((e) => e.type === 'berth.manifest.deleted');
    for (let waited = 0; !manifestGone(); waited += 250) {
      if (waited > 30_000) throw new Error(`no deletion events: ${JSON.stringify(events)}`);
      await sleep(250);
    }
    expect(events.find((e) => e.subject === 'svc/app:b')).toMatchObject({ type: 'berth.tag.deleted', data: { repository: 'svc/app', tag: 'b', digest: images.b!.digest, rule: 'retention.rules[0]' } });
    expect(events.find((e) => e.type === 'berth.manifest.deleted')).toMatchObject({ subject: `svc/app@${images.b!.digest}`, data: { rule: 'retention.rules[0]' } });
    expect(events.findIndex((e) => e.subject === 'svc/app:b')).toBeLessThan(events.findIndex((e) => e.type === 'berth.manifest.deleted'));
  });
});
