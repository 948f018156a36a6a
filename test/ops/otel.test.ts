/**
 * OpenTelemetry as an operator meets it: berth started with the standard OTEL_* variables sends
 * traces and metrics over OTLP/HTTP to a receiver started here, which decodes what arrives. A cold
 * mirror pull through a token-protected upstream (another berth, tracing into the same receiver)
 * must come out as one trace: the request's span, its storage spans, the upstream request with its
 * hops and token fetch, and the upstream's own spans continuing from the mirror's hop.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, clientUsers, getToken, pushImage, startWithConfig, type AuthServer } from '../support/auth.ts';
import { Client } from '../support/http.ts';
import { writeConfig } from '../support/mirror.ts';
import { digestOf, repoName } from '../support/oci.ts';
import { startReceiver, type Receiver, type ReceivedSpan } from '../support/otlp.ts';
import { startServer, type TestServer } from '../support/server.ts';

const server = 2;
const internal = 1;
const client = 3;

/** The standard variables pointing at the receiver, with short intervals so the test need not wait. */
const otelEnv = (receiver: Receiver, service: string, extra: Record<string, string> = {}): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_SERVICE_NAME: service,
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_METRIC_EXPORT_INTERVAL: '300',
  ...extra,
});

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** The spans of one trace that one service sent. */
const ofTrace = (r: Receiver, traceId: string, service: string): ReceivedSpan[] =>
  r.spans.filter((s) => s.traceId === traceId && s.resource['service.name'] === service);

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] => spans.filter((s) => s.parentSpanId === parent.spanId);

/** Every attribute value of every span, for the "never a key, digest or credential" checks. */
const attributeText = (spans: ReceivedSpan[]): string => JSON.stringify(spans.map((s) => [s.name, s.attributes, s.status]));

const servers: TestServer[] = [];
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  await receiver?.close();
});

describe('traces of a cold mirror pull', () => {
  let upstream: AuthServer;
  let mirror: TestServer;
  let image: { manifest: string; layer: string };

  beforeAll(async () => {
    upstream = await startWithConfig(clientConfig(['shared/**']), { env: otelEnv(receiver, 'upstream') });
    servers.push(upstream);
    const { body } = await getToken(upstream.url, { user: 'pusher', password: clientUsers.pusher, scopes: ['repository:shared/app:pull,push'] });
    image = await pushImage(upstream.url, 'shared/app', 'v1', `Bearer ${body.token}`);
    const config = await writeConfig(
      ['mirror:', '  upstreams:', `    - { name: up, url: "${upstream.url}", prefix: up, username: reader, password: ${clientUsers.reader} }`, ''].join('\n'),
    );
    mirror = await startServer({ args: ['--config', config], env: otelEnv(receiver, 'mirror') });
    servers.push(mirror);
  });

  it('continues the client’s trace through storage and the upstream, whose own spans join it', async () => {
    const traceId = hex(16);
    const clientSpan = hex(8);
    const res = await fetch(`${mirror.url}/v2/up/shared/app/blobs/${image.layer}`, { headers: { traceparent: `00-${traceId}-${clientSpan}-01` } });
    expect(res.status).toBe(200);
    expect(digestOf(new Uint8Array(await res.arrayBuffer()))).toBe(image.layer);

    // The request's span and the commit that ends the fill, which may come after the response.
    await receiver.until(() => ofTrace(receiver, traceId, 'mirror').some((s) => s.kind === server) && ofTrace(receiver, traceId, 'mirror').some((s) => s.name === 'storage commit'), 'the mirror’s spans');
    await receiver.until(() => ofTrace(receiver, traceId, 'upstream').some((s) => s.kind === server && s.attributes['http.route'] === '/v2/<name>/blobs/<digest>'), 'the upstream’s blob span');
    const spans = ofTrace(receiver, traceId, 'mirror');

    // One span per request, continuing the caller's: the route's pattern, never the raw path.
    const requests = spans.filter((s) => s.kind === server);
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.parentSpanId).toBe(clientSpan);
    expect(request.name).toBe('GET /v2/<name>/blobs/<digest>');
    expect(request.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/v2/<name>/blobs/<digest>',
      'http.response.status_code': 200,
      'berth.repository': 'up/shared/app',
      'berth.mirror.outcome': 'miss',
      'http.response.body.size': 2048,
    });
    expect(request.resource['service.name']).toBe('mirror');

    // The upstream request, under the request's span: its hops (the 401 challenge, then the
    // authorised GET) and the token fetch, whose own hop is under it.
    const upstreamSpans = childrenOf(spans, request).filter((s) => s.name === 'upstream GET');
    expect(upstreamSpans).toHaveLength(1);
    const up = upstreamSpans[0]!;
    expect(up.kind).toBe(internal);
    expect(up.attributes).toMatchObject({ 'berth.upstream': 'up', 'http.response.status_code': 200, 'berth.upstream.retries': 1 });
    const hops = childrenOf(spans, up).filter((s) => s.kind === client);
    expect(hops.map((h) => h.attributes['http.response.status_code'])).toEqual([401, 200]);
    for (const hop of hops) expect(hop.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1' });
    const token = childrenOf(spans, up).find((s) => s.name === 'upstream token');
    expect(token?.attributes).toMatchObject({ 'berth.upstream': 'up', 'http.response.status_code': 200 });
    expect(childrenOf(spans, token!).map((s) => [s.kind, s.attributes['http.response.status_code']])).toEqual([[client, 200]]);

    // Storage: the bytes appended to an upload as they arrive, then committed as a blob; by kind of key.
    const storage = spans.filter((s) => s.name.startsWith('storage '));
    expect(storage.every((s) => s.parentSpanId === request.spanId)).toBe(true);
    expect(storage.find((s) => s.name === 'storage append')?.attributes).toMatchObject({ 'berth.storage.driver': 'fs', 'berth.storage.operation': 'append', 'berth.storage.key_kind': 'upload' });
    expect(storage.find((s) => s.name === 'storage commit')?.attributes).toMatchObject({ 'berth.storage.key_kind': 'blob' });
    for (const s of spans) expect(s.start <= s.end).toBe(true);

    // The trace went on to the upstream: its request spans are children of the mirror's hops.
    const upstreamRequests = ofTrace(receiver, traceId, 'upstream').filter((s) => s.kind === server);
    const hopIds = new Set(spans.filter((s) => s.kind === client).map((s) => s.spanId));
    expect(upstreamRequests.length).toBeGreaterThanOrEqual(3); // challenge, token, blob
    for (const s of upstreamRequests) expect(hopIds.has(s.parentSpanId ?? '')).toBe(true);
    expect(upstreamRequests.map((s) => s.name)).toContain('GET /token');

    // Never a storage key, a digest, a path or a credential.
    const text = attributeText(spans);
    for (const secret of [image.layer.slice('sha256:'.length), 'repositories/', '_uploads', clientUsers.reader, 'Bearer', 'Basic']) expect(text).not.toContain(secret);
    expect(receiver.rejected).toEqual([]);
  });

  it('starts a trace of its own when the client sends none, and logs its ids on the request line', async () => {
    const res = await fetch(`${mirror.url}/v2/up/shared/app/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(res.status).toBe(200);
    const root = (): ReceivedSpan | undefined =>
      receiver.spans.find((s) => s.resource['service.name'] === 'mirror' && s.kind === server && s.attributes['http.route'] === '/v2/<name>/manifests/<reference>');
    await receiver.until(() => root() !== undefined, 'the manifest GET’s span');
    const span = root()!;
    expect(span.parentSpanId).toBeUndefined();
    await receiver.until(() => ofTrace(receiver, span.traceId, 'mirror').some((s) => s.name === 'upstream GET'), 'the upstream span of the manifest GET');
    const line = mirror
      .logs()
      .split('\n')
      .filter((l) => l.includes('"msg":"request"') && l.includes('/manifests/v1'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
    expect(line).toMatchObject({ trace_id: span.traceId, span_id: span.spanId });
  });
});

describe('traces of a push, and sampling', () => {
  it('gives the upload’s PATCH its append span and the closing PUT its commit span', async () => {
    const berth = await startServer({ env: otelEnv(receiver, 'push') });
    servers.push(berth);
    const http = new Client(berth.url);
    const repo = repoName('otel');
    const bytes = randomBytes(4096);
    const started = await http.request('POST', `/v2/${repo}/blobs/uploads/`);
    expect(started.status).toBe(202);
    const patched = await http.request('PATCH', started.header('Location')!, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(patched.status).toBe(202);
    const put = await http.request('PUT', `${patched.header('Location')!}${patched.header('Location')!.includes('?') ? '&' : '?'}digest=${digestOf(bytes)}`);
    expect(put.status).toBe(201);

    const requestSpan = (route: string, method: string) => (): ReceivedSpan | undefined =>
      receiver.spans.find((s) => s.resource['service.name'] === 'push' && s.kind === server && s.attributes['http.route'] === route && s.attributes['http.request.method'] === method);
    const patch = requestSpan('/v2/<name>/blobs/uploads/<id>', 'PATCH');
    const finish = requestSpan('/v2/<name>/blobs/uploads/<id>', 'PUT');
    await receiver.until(() => patch() !== undefined && finish() !== undefined, 'the upload’s spans');
    const spansOf = (parent: ReceivedSpan) => receiver.spans.filter((s) => s.parentSpanId === parent.spanId).map((s) => `${s.name} ${String(s.attributes['berth.storage.key_kind'])}`);
    expect(patch()!.attributes).toMatchObject({ 'http.request.body.size': 4096, 'http.response.status_code': 202, 'berth.repository': repo });
    expect(spansOf(patch()!)).toContain('storage append upload');
    expect(spansOf(finish()!)).toContain('storage commit blob');
    expect(finish()!.name).toBe('PUT /v2/<name>/blobs/uploads/<id>');
  });

  it('sends no span at all when sampling is off, while metrics still go out', async () => {
    const berth = await startServer({ env: otelEnv(receiver, 'unsampled', { OTEL_TRACES_SAMPLER: 'always_off' }) });
    servers.push(berth);
    const repo = repoName('off');
    const http = new Client(berth.url);
    expect((await http.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(Buffer.from('x'))}`, { body: 'x' })).status).toBe(201);
    expect((await http.request('GET', `/v2/${repo}/blobs/${digestOf(Buffer.from('x'))}`, { headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` } })).status).toBe(200);
    // Two metric exports after the requests prove the exporter is running and had time to send spans.
    const exports = receiver.metricExports('unsampled');
    await receiver.until(() => receiver.metricExports('unsampled') >= exports + 2, 'metrics of the unsampled server');
    expect(receiver.spans.filter((s) => s.resource['service.name'] === 'unsampled')).toEqual([]);
    expect(berth.logs()).not.toContain('trace_id');
  });
});

/** The value of one sample of the Prometheus text, undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (inside.split(',').length === want.length && want.every((w) => inside.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics over OTLP', () => {
  it('carries the /metrics families under the same names and labels, with the same numbers', async () => {
    const berth = await startServer({ env: otelEnv(receiver, 'metrics', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%3Dey,x-tenant=registry' }) });
    servers.push(berth);
    const http = new Client(berth.url);
    const repo = repoName('metrics');
    const bytes = Buffer.from('metrics');
    expect((await http.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, { body: bytes })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await http.request('GET', `/v2/${repo}/blobs/${digestOf(bytes)}`)).status).toBe(200);
    const scrape = await (await fetch(`${berth.url}/metrics`)).text();
    // An export that began after the scrape: the blob families cannot have moved since.
    const exports = receiver.metricExports('metrics');
    await receiver.until(() => receiver.metricExports('metrics') >= exports + 2, 'two metric exports after the scrape');
    const latest = (metric: string, attributes: Record<string, string>) =>
      receiver.points.filter((p) => p.resource['service.name'] === 'metrics' && p.metric === metric && JSON.stringify(p.attributes) === JSON.stringify(attributes)).at(-1);

    const blobGets = { route: '/v2/<name>/blobs/<digest>', method: 'GET', status: '200' };
    const requests = latest('berth_http_requests_total', blobGets);
    expect(requests).toMatchObject({ type: 'sum', monotonic: true, value: 3 });
    expect(requests?.value).toBe(sample(scrape, 'berth_http_requests_total', blobGets));

    const duration = latest('berth_http_request_duration_seconds', { route: '/v2/<name>/blobs/<digest>', method: 'GET' });
    expect(duration?.type).toBe('histogram');
    expect(duration?.count).toBe(3);
    expect(duration?.sum).toBe(sample(scrape, 'berth_http_request_duration_seconds_sum', { route: '/v2/<name>/blobs/<digest>', method: 'GET' }));
    expect(duration?.explicitBounds).toEqual([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
    expect(duration?.bucketCounts?.reduce((a, b) => a + b, 0)).toBe(3);

    // A prom-client family: storage latency per driver and operation.
    const puts = latest('berth_storage_operation_duration_seconds', { driver: 'fs', operation: 'commit' });
    expect(puts?.count).toBe(sample(scrape, 'berth_storage_operation_duration_seconds_count', { driver: 'fs', operation: 'commit' }));
    expect(latest('berth_uploads_in_flight', {})).toMatchObject({ type: 'gauge', value: 0 });
    expect(latest('berth_http_sent_bytes_total', { route: '/v2/<name>/blobs/<digest>' })?.value).toBe(3 * bytes.length);
    // The configured headers went with the exports (an API key for a hosted collector).
    expect(receiver.headersOf('metrics')).toMatchObject({ 'x-api-key': 'k=ey', 'x-tenant': 'registry' });
    expect(berth.logs()).not.toContain('k=ey');
        // OTEL_TRACES_EXPORTER=none: metrics only.
    expect(receiver.spans.filter((s) => s.resource['service.name'] === 'metrics')).toEqual([]);
  });
});
