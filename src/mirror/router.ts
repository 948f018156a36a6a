import { defaultPrefix, upstreamUrls, type MirrorOptions } from './schema.ts';
import type { Upstream } from './upstream.ts';

/** Where a repository name of a client's request leads. */
export interface Route {
  upstream: Upstream;
  /** The repository's name on the upstream (`library/alpine`). */
  remote: string;
  /**
   * The name its content is stored under here, `<prefix>/<remote>`: one name however it was asked
   * for (unqualified, by prefix, or by `?ns=`), and never a local push repository's name.
   */
  local: string;
}

const startsWithin = (name: string, prefix: string): boolean => name === prefix || name.startsWith(`${prefix}/`);

/** Maps repository names to upstreams: by prefix, then the default upstream for the rest. */
export class Router {
  readonly upstreams: readonly Upstream[];
  readonly #default: Upstream | undefined;
  readonly #local: readonly string[];
  /** Longest prefix first, so `ghcr.io/team` wins over `ghcr.io`. */
  readonly #byPrefix: readonly Upstream[];

  constructor(upstreams: Upstream[], defaultName: string | undefined, local: string[]) {
    this.upstreams = upstreams;
    this.#default = upstreams.find((u) => u.name === defaultName);
    this.#local = local;
    this.#byPrefix = [...upstreams].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The upstream serving `name`, or undefined for a local push repository. */
  route(name: string): Route | undefined {
    for (const upstream of this.#byPrefix) {
      if (name.startsWith(`${upstream.prefix}/`)) return this.#to(upstream, name.slice(upstream.prefix.length + 1));
    }
    if (!this.#default || this.#local.some((p) => startsWithin(name, p))) return undefined;
    return this.#to(this.#default, name);
  }

  /** Whether `name` is where a mirrored repository is stored (`<prefix>/<remote>`): retention's to expire. */
  stores(name: string): boolean {
    return this.upstreams.some((u) => name.startsWith(`${u.prefix}/`));
  }

  /** The upstream a containerd `?ns=<host>` names, if any. */
  byNamespace(ns: string): Upstream | undefined {
    const host = ns.toLowerCase();
    return this.upstreams.find((u) => u.aliases.has(host));
  }

  #to(upstream: Upstream, name: string): Route {
    const remote = upstream.libraryPrefix && !name.includes('/') ? `library/${name}` : name;
    return { upstream, remote, local: `${upstream.prefix}/${remote}` };
  }
}

/** `Router.stores` from the configuration alone, for commands that run no upstream (`berth retention`). */
export function storesMirrored(options: Pick<MirrorOptions, 'upstreams'>): (name: string) => boolean {
  const prefixes = options.upstreams.map((u) => u.prefix ?? defaultPrefix(upstreamUrls(u).map((url) => new URL(url))));
  return (name) => prefixes.some((p) => name.startsWith(`${p}/`));
}
