import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Counter {
  /** Point berth's (or distribution's) `endpoint` here instead of at the store. */
  endpoint: string;
  /** Requests by kind (`GET object`, `HEAD`, `PUT object`, `UploadPartCopy`, `LIST`, ...) since the last reset. */
  counts(): Record<string, number>;
  total(): number;
  /** Every request since the last reset, in arrival order, as `<kind> <key>` (the bucket left out). */
  log(): string[];
  reset(): void;
  close(): Promise<void>;
}

/** What an S3 request does, told from its method, query and headers. */
export function s3RequestKind(method: string, url: URL, headers: IncomingMessage['headers']): string {
  const q = url.searchParams;
  const copy = headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'GET':
      if (q.has('list-type') || q.has('prefix') || q.has('delimiter')) return 'LIST';
      if (q.has('uploadId')) return 'ListParts';
      if (q.has('uploads')) return 'ListMultipartUploads';
      return headers.range ? 'GET range' : 'GET';
    case 'HEAD':
      return url.pathname.split('/').filter(Boolean).length <= 1 ? 'HEAD bucket' : 'HEAD';
    case 'PUT':
      if (q.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      if (copy) return 'CopyObject';
      return headers['if-none-match'] ? 'PUT if-absent' : 'PUT';
    case 'POST':
      if (q.has('delete')) return 'DeleteObjects';
      if (q.has('uploads')) return 'CreateMultipartUpload';
      if (q.has('uploadId')) return 'CompleteMultipartUpload';
      return 'POST';
    case 'DELETE':
      return q.has('uploadId') ? 'AbortMultipartUpload' : 'DELETE';
    default:
      return method;
  }
}

/**
 * A transparent HTTP proxy in front of an S3 endpoint (path-style) that counts requests by kind:
 * where a push or a pull spends its round trips. It forwards the `Host` the client signed, which
 * RGW checks the signature against, so nothing needs signing again.
 */
export async function startS3Counter(target: string): Promise<S3Counter> {
  const to = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  let counts: Record<string, number> = {};
  let log: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', target);
    const kind = s3RequestKind(req.method ?? 'GET', url, req.headers);
    counts[kind] = (counts[kind] ?? 0) + 1;
    log.push(`${kind} ${decodeURIComponent(url.pathname).split('/').slice(2).join('/')}${url.search}`);
    const out = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    log: () => [...log],
    reset: () => {
      counts = {};
      log = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
