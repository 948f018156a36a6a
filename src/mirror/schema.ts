import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { size } from '../config/size.ts';
import { parseRange } from './versions.ts';

const dockerHubHosts = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io', 'registry.hub.docker.com']);

/** Whether `url` is Docker Hub's registry, whose prefix is `docker.io` and whose official images live under `library/`. */
export const isDockerHub = (url: URL): boolean => dockerHubHosts.has(url.hostname);

/** The names Docker Hub's registry is known by, for containerd's `?ns=`. */
export const dockerHubAliases: ReadonlySet<string> = dockerHubHosts;

/**
 * The prefix an upstream is reached under when none is configured: `docker.io` when one of its URLs
 * is Docker Hub's, else the host name (no port: a repository name cannot hold a colon) of its last
 * URL, the origin that regional mirrors before it stand in for.
 */
export const defaultPrefix = (urls: readonly URL[]): string => (urls.some(isDockerHub) ? 'docker.io' : (urls[urls.length - 1]?.hostname ?? ''));

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL like https://ghcr.io' });

/** An upstream's URLs in the order they are tried: `urls`, or the one `url`. */
export const upstreamUrls = (u: { url?: string | undefined; urls?: readonly string[] | undefined }): readonly string[] => u.urls ?? (u.url === undefined ? [] : [u.url]);

/** Repository-name prefixes: one or more name components, no leading or trailing slash. */
const prefix = z
  .string()
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/, 'must be a repository name prefix like "ghcr.io" or "mirror/quay"');

const upstream = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1-63 of a-z 0-9 . _ - (starting with a letter or digit)').describe('How logs, `mirror.default` and containerd\'s `?ns=` refer to it.'),
    url: httpUrl.optional().describe('The registry\'s URL. One of `url` and `urls` is required.'),
    urls: z
      .array(httpUrl)
      .min(1)
      .optional()
      .describe(
        'Several URLs for one registry, tried in order (a regional mirror, then the origin): each request goes to the first whose circuit is closed and that is not rate limited, and moves on to the next when that one fails (no connection, timeout, 5xx, 429). Tokens are kept per URL.',
      ),
    username: z.string().min(1).optional().describe('Credentials for the upstream\'s token service (or Basic auth); anonymous without them.'),
    password: z.string().min(1).optional(),
    tagTtl: duration.prefault('5m').describe('How long a tag (and a subject\'s referrers list) is served from the cache before the upstream is asked again (a HEAD for a tag).'),
    prefix: prefix.optional().describe('`/v2/<prefix>/<name>/...` reaches this upstream. Default: the URL\'s host name (`docker.io` for Docker Hub).'),
    libraryPrefix: z.boolean().optional().describe('Add `library/` to one-component names (always on for Docker Hub).'),
    notFoundTtl: duration
      .prefault('30s')
      .describe('How long the upstream\'s "not found" (404, or 401/403 after the token dance) for a tag, manifest or blob is remembered and answered without asking again; 0 asks every time.'),
    breaker: z
      .object({
        failures: z.number().int().nonnegative().default(5).describe('Failures in a row (no connection, timeout, 5xx) that open the circuit; 0 never opens it.'),
        coolDown: duration
          .prefault('30s')
          .describe('How long an open circuit sends nothing to the URL; then berth probes it with a `GET /v2/` of its own (clients are still answered at once), and any answer but a 5xx closes the circuit.'),
      })
      .strict()
      .prefault({})
      .describe('The circuit breaker, one per URL: while open, requests are answered at once (stale, or 503) instead of waiting for the timeouts.'),
    maxConnections: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('Requests (and so connections) to this upstream at once, over all its URLs; more wait their turn. 0: no limit.'),
    maxBytesPerSecond: size.prefault(0).describe('Bandwidth ("20MiB") of everything received from this upstream, shared by all downloads at once. 0: no limit.'),
  })
  .strict()
  .refine((u) => (u.username === undefined) === (u.password === undefined), {
    message: 'username and password go together',
    path: ['password'],
  })
  .refine((u) => (u.url === undefined) !== (u.urls === undefined), {
    message: 'give either url or urls (a list tried in order), not both and not neither',
    path: ['url'],
  });

const compiles = (source: string): boolean => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
};

const prefetchImage = z
  .object({
    name: z.string().min(1).describe('The repository as clients pull it through berth (`docker.io/library/alpine`, `ghcr.io/org/app`): a mirrored name.'),
    tags: z
      .array(z.string().refine(compiles, 'must be a regular expression'))
      .min(1)
      .optional()
      .describe('Regular expressions; a tag is fetched when it matches one of them whole (`"3\\.\\d+"`, `latest`). Without them, every tag the other filters let through.'),
    semver: z
      .string()
      .refine((r) => parseRange(r) !== undefined, 'must be a range like ">=3.18 <4" or "^1.2 || ~2.0"')
      .optional()
      .describe('Only tags that read as versions (`1`, `1.2`, `v1.2.3`) within this range (npm\'s syntax: `>=1.2 <2`, `^1.4`, `~1.4.2`, `1.x`, `||`).'),
    newest: z.number().int().positive().optional().describe('Of the tags left that read as versions, only the highest N.'),
    platforms: z
      .array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/, 'must be os/architecture[/variant], like linux/arm64/v8'))
      .min(1)
      .optional()
      .describe('For multi-platform tags, the platforms fetched (`linux/amd64`, `linux/arm64/v8`); all of them when left out.'),
  })
  .strict();

/** The pull-through mirror (DESIGN.md: The mirror). No upstreams: a plain push registry. */
export const mirrorSchema = z
  .object({
    upstreams: z.array(upstream).default([]),
    default: z.string().optional().describe('The upstream (by name) serving names that match no prefix; none means those stay local.'),
    local: z.array(prefix).default([]).describe('With a default upstream, names under these prefixes stay local push repositories.'),
    timeouts: z
      .object({
        connect: duration.prefault('10s').describe('TCP/TLS connect.'),
        headers: duration.prefault('30s').describe('From request sent to response headers.'),
        body: duration.prefault('60s').describe('Longest silence while a body streams.'),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        maxAge: duration.prefault(0).describe('Mirrored images unused this long expire; 0 keeps them however old.'),
        maxSize: size
          .prefault(0)
          .describe(
            'Bytes ("50GiB") mirrored content may occupy (each image\'s manifests and the blobs they use, shared blobs once); past it the least recently used images expire. 0: no limit.',
          ),
        interval: duration.prefault('1h').describe('How often the sweep runs; it also deletes the bytes only expired content used.'),
      })
      .strict()
      .prefault({})
      .describe('Cache size policy: by age, by size, or both. A background sweep expires mirrored images and frees their bytes itself; no `gc` needed.'),
    maxManifestBytes: z.number().int().positive().default(4 * 1024 * 1024).describe('Largest manifest fetched from an upstream; bigger ones are refused.'),
    prefetch: z
      .object({
        images: z.array(prefetchImage).default([]),
        interval: duration.prefault(0).describe('How often the images are fetched in the background (the first time once storage is ready); 0: only by `berth mirror prefetch`.'),
        concurrency: z.number().int().positive().default(4).describe('Blobs fetched at once.'),
      })
      .strict()
      .prefault({})
      .describe('Images kept warm: their tags (as filtered), the platforms chosen, every manifest and blob, fetched through the mirror as a client pull would be, on a schedule and by `berth mirror prefetch`. What is already stored is not fetched again, and retention never expires what the filters select (a set larger than `retention.maxSize` stays, with a warning).'),
  })
  .strict()
  .superRefine((m, ctx) => {
    const names = new Set(m.upstreams.map((u) => u.name));
    if (names.size !== m.upstreams.length) ctx.addIssue({ code: 'custom', message: 'upstream names must be unique', path: ['upstreams'] });
    // Routing takes the first upstream with a matching prefix: a second one with the same prefix could never be reached.
    const byPrefix = new Map<string, string>();
    for (const [i, u] of m.upstreams.entries()) {
      const urls = upstreamUrls(u).map((s) => URL.parse(s));
      if (urls.length === 0 || urls.some((url) => url === null)) continue;
      const url = urls[urls.length - 1]!;
      const prefix = u.prefix ?? defaultPrefix(urls as URL[]);
      const first = byPrefix.get(prefix);
      if (first === undefined) byPrefix.set(prefix, u.name);
      else {
        const why = u.prefix === undefined ? ` (the default for ${url.host}; set \`prefix\` on one of them)` : '';
        ctx.addIssue({ code: 'custom', message: `prefix "${prefix}"${why} is already upstream "${first}"'s: this one could never be reached`, path: ['upstreams', i, 'prefix'] });
      }
    }
    if (m.default !== undefined && !names.has(m.default)) {
      ctx.addIssue({ code: 'custom', message: `names no upstream (have: ${[...names].join(', ') || 'none'})`, path: ['default'] });
    }
  });

export type MirrorOptions = z.output<typeof mirrorSchema>;
export type UpstreamOptions = MirrorOptions['upstreams'][number];
export type PrefetchOptions = MirrorOptions['prefetch'];
export type PrefetchImage = PrefetchOptions['images'][number];
