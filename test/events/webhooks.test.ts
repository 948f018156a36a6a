/**
 * Webhooks (`events.webhooks`) against a running berth and a local receiver that answers, then
 * hangs (slower than the webhook's timeout), then is down, then is back: events arrive as
 * CloudEvents 1.0 JSON, signed, in the order they were raised; failed deliveries are retried with
 * backoff; while the receiver is away the queue holds at most `queueSize` events and counts what it
 * drops; an endpoint that keeps failing is given up on after its retries; filters pick by
 * repository, action and media type. Nothing here asserts how fast anything is: every wait polls
 * for a state with a generous limit.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../concurrency/stack.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { Client } from '../support/http.ts';
import { mediaTypes, pushImage, type PushedManifest } from '../support/oci.ts';

const secret = 'a-webhook-secret-of-some-length';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  event: { specversion: string; id: string; source: string; type: string; subject: string; time: string; datacontenttype: string; data: Record<string, unknown> };
}

/** How the receiver answers: 200, 500 on /broken whatever the mode; or never (hang). */
type Mode = 'ok' | 'hang';

/** A webhook receiver on 127.0.0.1 that can hang, go down (its port closed) and come back on the same port. */
class Receiver {
  /** Every request that arrived, answered or not. */
  readonly seen: Received[] = [];
  /** Requests answered 2xx, per path: what counts as delivered. */
  readonly accepted: Received[] = [];
  mode: Mode = 'ok';
  port = 0;
  #server: Server | undefined;
  readonly #hung: ServerResponse[] = [];

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const got: Received = { path: req.url ?? '', headers: req.headers, body, event: JSON.parse(body) as Received['event'] };
        this.seen.push(got);
        if (got.path === '/broken') return void res.writeHead(500).end('no');
        if (this.mode === 'hang') return void this.#hung.push(res);
        this.accepted.push(got);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Closes the port and every connection (hung ones too): the endpoint is unreachable. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const res of this.#hung.splice(0)) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  acceptedOn(path: string): Received[] {
    return this.accepted.filter((r) => r.path === path);
  }
}

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, limitMs = 60_000): Promise<T> {
  for (let waited = 0; ; waited += 100) {
    const got = await probe();
    if (got) return got;
    if (waited > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The value of one metric series (0 when absent); `labels` in any order. */
async function metric(url: string, name: string, labels: string): Promise<number> {
  const want = labels.split(',').sort().join(',');
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m?.[1] === name && m[2]!.split(',').sort().join(',') === want) return Number(m[3]);
  }
  return 0;
}

const verified = (r: Received): boolean => {
  const header = r.headers['berth-signature'];
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
};

/** What a receiver sees of events: type and subject. */
const said = (rs: Received[]): string[] => rs.map((r) => `${r.event.type} ${r.event.subject}`);

describe('webhooks: CloudEvents, signed, in order, retried, bounded', () => {
  const receiver = new Receiver();
  let stack: Stack;
  let client: Client;
  let url: string;
  const images: Record<string, PushedManifest> = {};
  const sbomType = 'application/vnd.example.sbom+json';

  beforeAll(async () => {
    await receiver.start();
    stack = await startStack({
      events: {
        source: 'https://registry.example.test',
        webhooks: [
          { name: 'main', url: receiver.url('/main'), secret, headers: { Authorization: 'Bearer receiver-token' }, actions: ['push', 'delete'], repositories: ['app/**'], timeout: '1s', backoff: '100ms', maxBackoff: '500ms', retries: 100, queueSize: 4 },
          { name: 'broken', url: receiver.url('/broken'), actions: ['delete'], backoff: '50ms', retries: 2 },
          { name: 'sboms', url: receiver.url('/sboms'), actions: ['push', 'pull'], mediaTypes: [sbomType] },
        ],
      },
    });
    client = new Client(stack.server.url);
    url = stack.server.url;
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver.down();
  });

  it('sends a push as CloudEvents 1.0 JSON, signed with the secret: the manifest, then its tag', async () => {
    images.v1 = await pushImage(client, 'app/one', 'v1');
    const got = await until('the v1 events', () => receiver.acceptedOn('/main').length >= 2 && receiver.acceptedOn('/main'));
    expect(said(got)).toEqual(['berth.manifest.pushed app/one@' + images.v1.digest, 'berth.tag.pushed app/one:v1']);
    const [manifest, tag] = got as [Received, Received];
    expect(manifest.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(manifest.headers.authorization).toBe('Bearer receiver-token');
    expect(got.every(verified), 'each body carries its HMAC').toBe(true);
    expect(manifest.event).toMatchObject({
      specversion: '1.0',
      source: 'https://registry.example.test',
      datacontenttype: 'application/json',
      data: { repository: 'app/one', digest: images.v1.digest, mediaType: mediaTypes.ociManifest, size: images.v1.bytes.length, tags: ['v1'] },
    });
    expect(Date.parse(manifest.event.time)).not.toBeNaN();
    expect(tag.event.data).toMatchObject({ repository: 'app/one', tag: 'v1', digest: images.v1.digest });
    expect(manifest.event.id).not.toBe(tag.event.id);
    // A forged body does not verify.
    expect(verified({ ...manifest, body: manifest.body.replace('app/one', 'app/two') })).toBe(false);
  });

  it('retries a receiver slower than the timeout, holds only queueSize events while it is down, and delivers them in order when it is back', async () => {
    receiver.mode = 'hang';
    images.v2 = await pushImage(client, 'app/one', 'v2');
    await until('a timed-out attempt', async () => (await metric(url, 'berth_events_delivery_failures_total', 'reason="timeout",webhook="main"')) >= 1);

    await receiver.down();
    images.v3 = await pushImage(client, 'app/one', 'v3');
    // v2's and v3's four events fill the queue; v4's and v5's are dropped and counted.
    images.v4 = await pushImage(client, 'app/one', 'v4');
    images.v5 = await pushImage(client, 'app/one', 'v5');
    expect(await metric(url, 'berth_events_dropped_total', 'webhook="main"')).toBe(4);
    expect(await metric(url, 'berth_events_queued', 'webhook="main"')).toBe(4);
    await until('an unreachable attempt', async () => (await metric(url, 'berth_events_delivery_failures_total', 'reason="unreachable",webhook="main"')) >= 1);

    receiver.mode = 'ok';
    await receiver.start();
    const got = await until('the queued events', () => receiver.acceptedOn('/main').length >= 6 && receiver.acceptedOn('/main'));
    expect(said(got.slice(2))).toEqual([
      `berth.manifest.pushed app/one@${images.v2.digest}`,
      'berth.tag.pushed app/one:v2',
      `berth.manifest.pushed app/one@${images.v3.digest}`,
      'berth.tag.pushed app/one:v3',
    ]);
    expect(got.every(verified)).toBe(true);
    // v2's manifest event was sent more than once (hung, then refused, then accepted), with one id.
    const v2 = got[2]!.event.id;
    expect(receiver.seen.filter((r) => r.event.id === v2).length).toBeGreaterThanOrEqual(2);
    expect(await metric(url, 'berth_events_queued', 'webhook="main"')).toBe(0);

    // Delivery goes on as before, and what was dropped never comes.
    images.v6 = await pushImage(client, 'app/one', 'v6');
    await until('the v6 tag event', () => receiver.acceptedOn('/main').some((r) => r.event.subject === 'app/one:v6'));
    expect(said(receiver.acceptedOn('/main').slice(6))).toEqual([`berth.manifest.pushed app/one@${images.v6.digest}`, 'berth.tag.pushed app/one:v6']);
    expect(said(receiver.acceptedOn('/main')).some((s) => s.includes('v4') || s.includes('v5') || s.includes(images.v4!.digest))).toBe(false);
    expect(await metric(url, 'berth_events_delivered_total', 'webhook="main"')).toBe(8);
    expect(await metric(url, 'berth_events_delivery_seconds_count', 'webhook="main"')).toBe(8);
  });

  it('sends deletes, and gives up on an endpoint that keeps failing after its retries', async () => {
    expect((await client.request('DELETE', '/v2/app/one/manifests/v6')).status).toBe(202);
    const deleted = await until('the tag deletion', () => receiver.acceptedOn('/main').find((r) => r.event.type === 'berth.tag.deleted'));
    expect(deleted.event).toMatchObject({ subject: 'app/one:v6', data: { repository: 'app/one', tag: 'v6', digest: images.v6!.digest, mediaType: mediaTypes.ociManifest } });
    expect(verified(deleted)).toBe(true);

    await until('the broken webhook to give up', async () => (await metric(url, 'berth_events_failed_total', 'webhook="broken"')) === 1);
    const attempts = receiver.seen.filter((r) => r.path === '/broken');
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((r) => r.event.id)).size, 'one event, tried 1 + 2 times').toBe(1);
    expect(attempts[0]!.headers['berth-signature'], 'no secret, no signature').toBeUndefined();
    expect(await metric(url, 'berth_events_delivery_failures_total', 'reason="status 500",webhook="broken"')).toBe(3);

    expect((await client.request('DELETE', `/v2/app/one/manifests/${images.v5!.digest}`)).status).toBe(202);
    const manifest = await until('the manifest deletion', () => receiver.acceptedOn('/main').find((r) => r.event.type === 'berth.manifest.deleted'));
    expect(manifest.event).toMatchObject({ subject: `app/one@${images.v5!.digest}`, data: { digest: images.v5!.digest, mediaType: mediaTypes.ociManifest } });
  });

  it('filters by repository, action and media type, and sends pulls when asked', async () => {
    const sbom = await pushImage(client, 'other/thing', images.v1!.digest.replace(':', '-') + '.sbom', { artifactType: sbomType, subject: images.v1!.descriptor });
    await pushImage(client, 'other/thing', 'plain');
    expect((await client.request('GET', `/v2/other/thing/manifests/${sbom.digest}`, { headers: { Accept: mediaTypes.ociManifest } })).status).toBe(200);
    const got = await until('the SBOM push and pull', () => receiver.acceptedOn('/sboms').length >= 3 && receiver.acceptedOn('/sboms'));
    await sleep(500);
    expect(said(receiver.acceptedOn('/sboms'))).toEqual([
      `berth.manifest.pushed other/thing@${sbom.digest}`,
      `berth.tag.pushed other/thing:${images.v1!.digest.replace(':', '-')}.sbom`,
      `berth.manifest.pulled other/thing@${sbom.digest}`,
    ]);
    expect(got[0]!.event.data).toMatchObject({ artifactType: sbomType, subject: images.v1!.digest });
    // `main` hears app/** only.
    expect(receiver.acceptedOn('/main').some((r) => r.event.subject.startsWith('other/'))).toBe(false);
  });
});

describe('webhooks: mirror fills', () => {
  const receiver = new Receiver();
  let upstream: TestServer;
  let mirror: Stack;

  beforeAll(async () => {
    await receiver.start();
    upstream = await startServer();
    mirror = await startStack({
      mirror: { upstreams: [{ name: 'up', url: upstream.url, prefix: 'up' }] },
      events: { webhooks: [{ name: 'fills', url: receiver.url('/fills'), actions: ['mirror', 'push'] }] },
    });
  });
  afterAll(async () => {
    await mirror?.stop();
    await upstream?.stop();
    await receiver.down();
  });

  it('sends one event when the mirror stores a manifest fetched from its upstream, none when it serves it from its cache', async () => {
    const image = await pushImage(new Client(upstream.url), 'lib/tool', 'v1');
    const client = new Client(mirror.server.url);
    const pull = (): Promise<number> => client.request('GET', '/v2/up/lib/tool/manifests/v1', { headers: { Accept: mediaTypes.ociManifest } }).then((r) => r.status);
    expect(await pull()).toBe(200);
    const got = await until('the fill event', () => receiver.acceptedOn('/fills')[0]);
    expect(got.event).toMatchObject({ type: 'berth.manifest.mirrored', subject: 'up/lib/tool:v1', data: { repository: 'up/lib/tool', tag: 'v1', digest: image.digest, mediaType: mediaTypes.ociManifest } });
    expect(await pull()).toBe(200);
    // The second pull is a hit: nothing stored, nothing sent (delivery of anything else would show by now).
    await sleep(1_000);
    expect(receiver.acceptedOn('/fills')).toHaveLength(1);
  });
});
