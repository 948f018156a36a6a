import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** Bytes we send and receive; an ArrayBuffer-backed view so it is a valid fetch body. */
export type Bytes = Uint8Array<ArrayBuffer>;

export interface ClientOptions {
  url: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Bytes | string;
  /** Added to (not replacing) the target's query; an array repeats the parameter. */
  query?: Record<string, string | string[]>;
  timeoutMs?: number;
  /** Send no credentials and do not answer a 401 (to see what an anonymous client gets). */
  anonymous?: boolean;
}

/** A response read to the end, so a case can check status, headers and exact bytes. */
export class Reply {
  constructor(
    readonly method: string,
    readonly url: URL,
    readonly status: number,
    readonly headers: Headers,
    readonly body: Bytes,
  ) {}

  header(name: string): string | null {
    return this.headers.get(name);
  }

  text(): string {
    return new TextDecoder().decode(this.body);
  }

  /** Parsed JSON body, or undefined when the body is not JSON. */
  json(): unknown {
    try {
      return JSON.parse(this.text()) as unknown;
    } catch {
      return undefined;
    }
  }

  /** "GET /v2/x/manifests/y → 404 {…}" for failure messages. */
  describe(): string {
    const target = `${this.url.pathname}${this.url.search}`;
    const type = this.header('content-type') ?? '';
    const textual = /json|text/i.test(type) || type === '';
    const snippet = textual ? this.text().replace(/\s+/g, ' ').trim().slice(0, 200) : `(${this.body.length} bytes of ${type})`;
    return `${this.method} ${target} → ${this.status}${snippet ? ` ${snippet}` : ''}`;
  }
}

/** A HEAD response read off the socket, so a body the server wrongly sends is visible. */
export interface RawHeadReply {
  status: number;
  headers: Map<string, string>;
  bodyBytes: number;
}

interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * HTTP helper for one registry: resolves paths and Locations against the base URL, enforces a
 * timeout on every request, and authenticates with Basic or the Docker Bearer token flow
 * (401 + `WWW-Authenticate: Bearer realm=…,service=…,scope=…` → token from the realm → retry).
 */
export class RegistryClient {
  readonly baseUrl: URL;
  readonly timeoutMs: number;
  private readonly username: string | undefined;
  private readonly password: string | undefined;
  /** Authorization header per request scope ("<repo>|pull", "<repo>|push", "registry"). */
  private readonly authByScope = new Map<string, string>();
  /** Bearer tokens per challenge (realm, service, scope). */
  private readonly tokenByChallenge = new Map<string, string>();
  private useBasicEverywhere = false;

  constructor(options: ClientOptions) {
    this.baseUrl = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.username = options.username;
    this.password = options.password;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Resolve a path ("/v2/…") or a Location header (absolute or relative) to a URL. */
  resolve(target: string | URL, relativeTo?: URL): URL {
    return new URL(target, relativeTo ?? this.baseUrl);
  }

  async request(method: string, target: string | URL, options: RequestOptions = {}): Promise<Reply> {
    const url = this.resolve(target);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, item);
    }
    if (options.anonymous) return this.send(method, url, options, undefined);
    const scope = scopeKey(url, method);
    const first = await this.send(method, url, options, this.authorizationFor(scope));
    if (first.status !== 401) return first;
    const authorization = await this.authorize(first, scope);
    if (authorization === undefined) return first;
    return this.send(method, url, options, authorization);
  }

  /** The Authorization header this client would send for a request, if it has one. */
  authorizationFor(scope: string): string | undefined {
    if (this.useBasicEverywhere) return this.basicHeader();
    return this.authByScope.get(scope);
  }

  /**
   * HEAD over a raw socket: fetch never exposes a body on a HEAD response, so this is the only
   * way to see whether a registry wrongly sends one. Waits briefly after the headers for stray bytes.
   */
  async rawHead(target: string | URL, headers: Record<string, string> = {}): Promise<RawHeadReply> {
    const url = this.resolve(target);
    const authorization = this.authorizationFor(scopeKey(url, 'HEAD'));
    const lines = [
      `HEAD ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      'Connection: close',
      'Accept-Encoding: identity',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ...(authorization ? [`Authorization: ${authorization}`] : []),
    ];
    return readRawHead(url, `${lines.join('\r\n')}\r\n\r\n`, this.timeoutMs);
  }

  private async send(method: string, url: URL, options: RequestOptions, authorization: string | undefined): Promise<Reply> {
    const headers = new Headers({ 'Accept-Encoding': 'identity', ...options.headers });
    if (authorization) headers.set('Authorization', authorization);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = AbortSignal.timeout(timeoutMs);
    const target = `${url.pathname}${url.search}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: options.body, signal, redirect: 'follow' });
    } catch (error) {
      if (signal.aborted) throw new Error(`${method} ${target}: no response within ${timeoutMs} ms`);
      throw new Error(`${method} ${target}: ${describeError(error)}`);
    }
    try {
      const body = new Uint8Array(await response.arrayBuffer());
      return new Reply(method, url, response.status, response.headers, body);
    } catch (error) {
      // The status line and headers arrived but the body did not, e.g. a Content-Length that
      // promises more bytes than the server sends.
      const length = response.headers.get('content-length');
      const why = signal.aborted ? `not complete within ${timeoutMs} ms` : describeError(error);
      throw new Error(`${method} ${target} → ${response.status}, then the body broke off${length ? ` (Content-Length ${length})` : ''}: ${why}`);
    }
  }

  /** Work out credentials from a 401 and remember them for the request's scope. */
  private async authorize(reply: Reply, scope: string): Promise<string | undefined> {
    const challenge = reply.header('www-authenticate') ?? '';
    const bearer = parseBearerChallenge(challenge);
    let authorization: string | undefined;
    if (bearer) {
      authorization = await this.bearerFor(bearer);
    } else if (/^\s*basic\b/i.test(challenge) && this.username !== undefined) {
      this.useBasicEverywhere = true;
      authorization = this.basicHeader();
    }
    if (authorization !== undefined) this.authByScope.set(scope, authorization);
    return authorization;
  }

  private async bearerFor(challenge: BearerChallenge): Promise<string | undefined> {
    const key = `${challenge.realm}|${challenge.service ?? ''}|${challenge.scope ?? ''}`;
    const cached = this.tokenByChallenge.get(key);
    if (cached) return cached;
    const tokenUrl = new URL(challenge.realm);
    if (challenge.service) tokenUrl.searchParams.set('service', challenge.service);
    for (const scope of (challenge.scope ?? '').split(' ').filter(Boolean)) tokenUrl.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    const basic = this.basicHeader();
    if (basic) headers['Authorization'] = basic;
    try {
      const response = await fetch(tokenUrl, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) return undefined;
      const body = (await response.json()) as { token?: unknown; access_token?: unknown };
      const token = typeof body.token === 'string' ? body.token : body.access_token;
      if (typeof token !== 'string' || token === '') return undefined;
      const authorization = `Bearer ${token}`;
      this.tokenByChallenge.set(key, authorization);
      return authorization;
    } catch {
      return undefined;
    }
  }

  private basicHeader(): string | undefined {
    if (this.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.username}:${this.password ?? ''}`).toString('base64')}`;
  }
}

/** Which credentials a request needs: per repository and read/write, or registry-wide. */
function scopeKey(url: URL, method: string): string {
  const match = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(url.pathname);
  if (!match?.[1]) return 'registry';
  const access = method === 'GET' || method === 'HEAD' ? 'pull' : 'push';
  return `${match[1]}|${access}`;
}

function parseBearerChallenge(header: string): BearerChallenge | undefined {
  const match = /^\s*bearer\s+(.*)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const params = new Map<string, string>();
  for (const part of match[1].matchAll(/([a-zA-Z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) {
    const key = part[1];
    if (key) params.set(key.toLowerCase(), part[2] ?? part[3] ?? '');
  }
  const realm = params.get('realm');
  if (!realm) return undefined;
  return { realm, service: params.get('service'), scope: params.get('scope') };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : '';
  if (cause === 'bad port') {
    return 'fetch refuses this port (a WHATWG "bad port" such as 5060, 5061 or 6000); run the registry on another port';
  }
  return cause ? `${error.message}: ${cause}` : error.message;
}

function readRawHead(url: URL, request: string, timeoutMs: number): Promise<RawHeadReply> {
  return new Promise((resolve, reject) => {
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const socket =
      url.protocol === 'https:'
        ? connectTls({ host: url.hostname, port, servername: url.hostname }, () => socket.write(request))
        : connectTcp({ host: url.hostname, port }, () => socket.write(request));
    const chunks: Buffer[] = [];
    let headerEnd = -1;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => finish(new Error(`raw HEAD ${url.pathname}: timed out`)), timeoutMs);

    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (graceTimer) clearTimeout(graceTimer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        reject(error ?? new Error(`raw HEAD ${url.pathname}: connection closed before the headers ended`));
        return;
      }
      const [statusLine = '', ...headerLines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const status = Number(statusLine.split(' ')[1]);
      resolve({ status, headers, bodyBytes: all.length - (end + 4) });
    };

    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      if (headerEnd < 0) {
        headerEnd = Buffer.concat(chunks).indexOf('\r\n\r\n');
        // Any body bytes would follow the headers at once; give them a moment to arrive.
        if (headerEnd >= 0) graceTimer = setTimeout(() => finish(), 300);
      }
    });
    socket.on('close', () => finish());
    socket.on('error', (error) => finish(error));
  });
}
