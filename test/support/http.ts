import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** A response as the client saw it, every header occurrence kept (`OCI-Tag` may repeat). */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Alternating names and values, exactly as received. */
  rawHeaders: string[];
  body: Buffer;
  /** The header's value; repeated headers are joined with ", ". */
  header(name: string): string | undefined;
  /** Every value of a header that may repeat, one entry per occurrence. */
  all(name: string): string[];
  text(): string;
  json<T = unknown>(): T;
}

export interface SendOptions {
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Send the body with `Transfer-Encoding: chunked` in this many pieces, without a Content-Length. */
  chunked?: number;
}

function reply(status: number, headers: IncomingHttpHeaders, rawHeaders: string[], body: Buffer): Reply {
  const all = (name: string): string[] =>
    rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name.toLowerCase() ? [rawHeaders[i + 1] ?? ''] : []));
  return {
    status,
    headers,
    rawHeaders,
    body,
    header: (name) => {
      const values = all(name);
      return values.length === 0 ? undefined : values.join(', ');
    },
    all,
    text: () => body.toString('utf8'),
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}

const asBuffer = (body: Uint8Array | string): Buffer => (typeof body === 'string' ? Buffer.from(body) : Buffer.from(body));

/**
 * An HTTP/1.1 client over node:http: the path goes on the request line exactly as given (no
 * normalisation of `..` or `%2F`), and headers such as Content-Length are the caller's to set.
 */
export class Client {
  readonly base: URL;

  constructor(base: string) {
    this.base = new URL(base);
  }

  /** `target` is a path (sent raw), or an absolute URL / relative reference as a `Location` gives it. */
  request(method: string, target: string, opts: SendOptions = {}): Promise<Reply> {
    const path = target.startsWith('/') ? target : pathOf(new URL(target, this.base));
    const body = opts.body === undefined ? undefined : asBuffer(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined && opts.chunked === undefined && !hasHeader(headers, 'content-length')) {
      headers['Content-Length'] = String(body.byteLength);
    }
    // Like curl, ask before sending a large body, so a server refusing it (413) can say so first.
    const askFirst = body !== undefined && body.byteLength >= largeBody && opts.chunked === undefined && !hasHeader(headers, 'expect');
    if (askFirst) headers.Expect = '100-continue';
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = httpRequest(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: false },
        (res) => {
          answered = true;
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => {
            resolve(reply(res.statusCode ?? 0, res.headers, res.rawHeaders, Buffer.concat(parts)));
            req.destroy(); // an unsent body (refused after Expect: 100-continue) leaves the request open
          });
          res.on('error', reject);
        },
      );
      // A server may answer early (413) and stop reading: a failed write after the answer is no failure.
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      if (askFirst) {
        req.on('continue', () => req.end(body));
        req.flushHeaders();
        return;
      }
      if (body !== undefined && opts.chunked !== undefined) {
        const step = Math.max(1, Math.ceil(body.byteLength / opts.chunked));
        for (let at = 0; at < body.byteLength; at += step) req.write(body.subarray(at, at + step));
      }
      req.end(opts.chunked === undefined ? body : undefined);
    });
  }

  get = (target: string, headers?: Record<string, string>): Promise<Reply> => this.request('GET', target, { headers });
  head = (target: string, headers?: Record<string, string>): Promise<Reply> => this.request('HEAD', target, { headers });
  delete = (target: string): Promise<Reply> => this.request('DELETE', target);

  /**
   * Sends the request head and `sent` bytes of a body that declares `declared` bytes, then drops
   * the connection: a client that lies about Content-Length or dies mid-body.
   */
  abandon(method: string, path: string, sent: Uint8Array, declared: number, headers: Record<string, string> = {}): Promise<void> {
    return new Promise((resolve) => {
      const req = httpRequest({
        host: this.base.hostname,
        port: this.base.port,
        method,
        path,
        agent: false,
        headers: { ...headers, 'Content-Length': String(declared) },
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.write(sent, () => setTimeout(() => req.destroy(), 200));
    });
  }
}

/** Bodies from this size on are sent with `Expect: 100-continue`. */
const largeBody = 1 << 20;

const hasHeader = (headers: Record<string, string>, name: string): boolean =>
  Object.keys(headers).some((k) => k.toLowerCase() === name);

const pathOf = (u: URL): string => `${u.pathname}${u.search}`;
