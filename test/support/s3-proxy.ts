/**
 * A proxy in front of the test's S3 that plays a store without conditional writes: it drops
 * `If-None-Match` from every request and signs the request again (SigV4, with the test's own keys)
 * so that RGW accepts it. Everything else reaches RGW as sent.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3Server } from './s3.ts';

export interface S3Proxy {
  endpoint: string;
  /** Requests that came with `If-None-Match` and went on without it. */
  stripped: number;
  close(): Promise<void>;
}

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 (or HMAC-SHA-256 with a secret) as the signer wants it. */
class Sha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: Data) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.#hash.digest());
  }
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export async function startStrippingProxy(s3: S3Server): Promise<S3Proxy> {
  const target = new URL(s3.endpoint);
  const signer = new SignatureV4({
    service: 's3',
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    sha256: Sha256,
    uriEscapePath: false,
  });
  const state: S3Proxy = { endpoint: '', stripped: 0, close: async () => undefined };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await bodyOf(req);
    const url = new URL(req.url ?? '/', target);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || ['authorization', 'x-amz-date', 'connection', 'host', 'expect'].includes(name)) continue;
      if (name === 'if-none-match') {
        state.stripped++;
        continue;
      }
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    headers.host = target.host;
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signed = await signer.sign({
      method: req.method ?? 'GET',
      protocol: target.protocol,
      hostname: target.hostname,
      port: Number(target.port),
      path: url.pathname,
      query,
      headers,
      body,
    });
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: `${url.pathname}${url.search}`, headers: signed.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.socket?.destroy());
    out.end(body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}
