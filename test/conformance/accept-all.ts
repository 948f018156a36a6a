/**
 * A registry that accepts everything and stores nothing: every write is answered with the success
 * the spec describes, carrying every header a lazy check could look for (Location, Range,
 * Docker-Content-Digest, OCI-Subject, OCI-Tag), and every read of content is a 404. The conformance
 * suite must fail it on every push case; a push case it passes cannot tell a registry from a sink.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AcceptAll {
  url: string;
  close(): Promise<void>;
}

const digestOf = (bytes: Buffer, algorithm = 'sha256'): string => `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;

function errors(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replaceAll('_', ' ') }] }));
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function subjectOf(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { subject?: { digest?: unknown } };
    return typeof doc.subject?.digest === 'string' ? doc.subject.digest : undefined;
  } catch {
    return undefined;
  }
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fake');
  const bytes = await body(req);
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (path === '/v2/' || path === '/v2') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
  if (path === '/v2/_catalog') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"repositories":[]}');

  const upload = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(path);
  if (upload) {
    const [, name = '', id = ''] = upload;
    const digest = url.searchParams.get('digest') ?? url.searchParams.get('mount');
    const blobLocation = (d: string): Record<string, string> => ({ Location: `/v2/${name}/blobs/${d}`, 'Docker-Content-Digest': d });
    if (method === 'POST') {
      if (digest) return void res.writeHead(201, blobLocation(digest)).end();
      return void res.writeHead(202, { Location: `/v2/${name}/blobs/uploads/${randomUUID()}`, Range: '0-0' }).end();
    }
    const session = { Location: `/v2/${name}/blobs/uploads/${id}` };
    if (method === 'PATCH') {
      const range = /^(\d+)-(\d+)$/.exec(req.headers['content-range'] ?? '');
      const end = range ? Number(range[2]) : Math.max(0, bytes.byteLength - 1);
      return void res.writeHead(202, { ...session, Range: `0-${end}` }).end();
    }
    if (method === 'PUT') return void res.writeHead(201, blobLocation(digest ?? digestOf(bytes))).end();
    if (method === 'DELETE') return void res.writeHead(204).end();
    return void res.writeHead(204, { ...session, Range: '0-0' }).end();
  }

  const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
  if (manifest) {
    const [, name = '', reference = ''] = manifest;
    if (method === 'PUT') {
      const algorithm = /^(sha256|sha512):/.exec(reference)?.[1];
      const digest = digestOf(bytes, algorithm);
      const headers: Record<string, string | string[]> = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
      const subject = subjectOf(bytes);
      if (subject) headers['OCI-Subject'] = subject;
      const tags = url.searchParams.getAll('tag');
      if (tags.length > 0) headers['OCI-Tag'] = tags;
      return void res.writeHead(201, headers).end();
    }
    if (method === 'DELETE') return void res.writeHead(202).end();
    return errors(res, 404, 'MANIFEST_UNKNOWN');
  }
  if (/^\/v2\/.+\/blobs\/[^/]+$/.test(path)) {
    if (method === 'DELETE') return void res.writeHead(202).end();
    return errors(res, 404, 'BLOB_UNKNOWN');
  }
  const tags = /^\/v2\/(.+)\/tags\/list$/.exec(path);
  if (tags) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ name: tags[1], tags: [] }));
  if (/^\/v2\/.+\/referrers\/[^/]+$/.test(path)) {
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.index.v1+json' });
    return void res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
  }
  errors(res, 404, 'NAME_UNKNOWN');
}

export async function startAcceptAll(): Promise<AcceptAll> {
  const server = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
