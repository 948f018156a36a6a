/**
 * A lean pull client for the concurrent-pull benchmark, run as its own process pinned to the
 * client core: `node pull-clients.js URL REPO TAG CLIENTS PARALLEL`.
 *
 * First one pull that checks every blob's digest and size (and warms the server), then CLIENTS
 * pulls at once, each with its own undici pool of PARALLEL connections: manifest by tag, config,
 * then every layer, PARALLEL layers at a time (dockerd's default is 3). Timed pulls count bytes
 * and check sizes but do not hash, so the client's CPU goes to HTTP, not to sha256. Prints a
 * `PullResult` as JSON on stdout.
 */
import { createHash } from 'node:crypto';
import { Pool } from 'undici';

export interface PullResult {
  /** Wall time from the first request to the last client's last byte. */
  seconds: number;
  bytes: number;
  /** Each client's own time for its whole pull, sorted. */
  clientSeconds: number[];
  /** CPU the client process used during the timed pulls (user + system), in seconds. */
  cpuSeconds: number;
  /** GETs sent again because the server closed a kept-alive connection before answering. */
  retries: number;
}

interface Descriptor {
  digest: string;
  size: number;
}

const accept = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

let retries = 0;

/**
 * Runs a GET, sending it once more if the connection closed before any of the response arrived:
 * a server may close a kept-alive connection it has seen idle (Node's keepAliveTimeout is 5 s)
 * just as the client reuses it, and HTTP clients resend idempotent requests then (RFC 9112
 * §9.3.1; Go's net/http does). A connection lost mid-response is a failure.
 */
async function withRetry<T>(get: (answered: () => void) => Promise<T>): Promise<T> {
  let answered = false;
  try {
    return await get(() => (answered = true));
  } catch (e) {
    const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
    if (answered || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET')) throw e;
    retries++;
    return get(() => undefined);
  }
}

function getBytes(pool: Pool, path: string, headers: Record<string, string> = {}): Promise<Buffer> {
  return withRetry(async (answered) => {
    const res = await pool.request({ method: 'GET', path, headers });
    answered();
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.toString().slice(0, 300)}`);
    return body;
  });
}

async function getManifest(pool: Pool, repo: string, tag: string): Promise<{ bytes: number; config: Descriptor; layers: Descriptor[] }> {
  const body = await getBytes(pool, `/v2/${repo}/manifests/${tag}`, { Accept: accept });
  const m = JSON.parse(body.toString()) as { config?: Descriptor; layers?: Descriptor[] };
  if (!m.config || !m.layers) throw new Error(`manifest ${repo}:${tag} is not an image manifest: ${body.toString().slice(0, 300)}`);
  return { bytes: body.length, config: m.config, layers: m.layers };
}

/**
 * Fetches a blob with undici's lowest-level API (a dispatch handler, no stream objects), counting
 * its bytes (and hashing them when `hash`); checks its size and status.
 */
function getBlob(pool: Pool, repo: string, blob: Descriptor, hash: boolean): Promise<number> {
  const path = `/v2/${repo}/blobs/${blob.digest}`;
  return withRetry(
    (answered) =>
      new Promise<number>((resolve, reject) => {
        let status = 0;
        let bytes = 0;
        const h = hash ? createHash('sha256') : undefined;
        pool.dispatch(
          { method: 'GET', path },
          {
            onRequestStart() {}, // undici treats a handler as one of this API only if it has this
            onResponseStart(_controller, statusCode) {
              answered();
              status = statusCode;
            },
            onResponseData(_controller, chunk) {
              bytes += chunk.length;
              h?.update(chunk);
            },
            onResponseEnd() {
              if (status !== 200) reject(new Error(`GET ${path}: HTTP ${status}`));
              else if (bytes !== blob.size) reject(new Error(`GET ${path}: ${bytes} bytes, the manifest says ${blob.size}`));
              else if (h && `sha256:${h.digest('hex')}` !== blob.digest) reject(new Error(`GET ${path}: the bytes do not match the digest`));
              else resolve(bytes);
            },
            onResponseError(_controller, error) {
              reject(error);
            },
          },
        );
      }),
  );
}

/** One client's pull: manifest, config, then the layers `parallel` at a time. Returns bytes fetched. */
async function pull(pool: Pool, repo: string, tag: string, parallel: number, hash: boolean): Promise<number> {
  const manifest = await getManifest(pool, repo, tag);
  let bytes = manifest.bytes + (await getBlob(pool, repo, manifest.config, hash));
  const queue = [...manifest.layers];
  const worker = async (): Promise<void> => {
    for (let layer = queue.shift(); layer; layer = queue.shift()) {
      const n = await getBlob(pool, repo, layer, hash); // not `bytes += await …`: that reads `bytes` before the await
      bytes += n;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return bytes;
}

async function main(): Promise<void> {
  const [url, repo, tag, clientsArg, parallelArg] = process.argv.slice(2);
  const clients = Number(clientsArg);
  const parallel = Number(parallelArg);
  if (!url || !repo || !tag || !(clients > 0) || !(parallel > 0)) throw new Error('usage: pull-clients URL REPO TAG CLIENTS PARALLEL');

  const check = new Pool(url, { connections: parallel });
  await pull(check, repo, tag, parallel, true);
  await check.close();
  retries = 0;

  const pools = Array.from({ length: clients }, () => new Pool(url, { connections: parallel }));
  const clientSeconds: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const bytes = await Promise.all(
    pools.map(async (pool) => {
      const n = await pull(pool, repo, tag, parallel, false);
      clientSeconds.push((performance.now() - started) / 1000);
      return n;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await Promise.all(pools.map((p) => p.close()));
  const result: PullResult = {
    seconds,
    bytes: bytes.reduce((a, b) => a + b, 0),
    clientSeconds: clientSeconds.sort((a, b) => a - b),
    cpuSeconds: (used.user + used.system) / 1e6,
    retries,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
