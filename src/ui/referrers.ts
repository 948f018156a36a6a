/**
 * The referrers of a manifest as a tree: what the referrers API lists (signatures, SBOMs,
 * attestations pushed with a `subject`), what cosign's tag scheme names (`sha256-<hex>.sig`,
 * `.att`, `.sbom`), and their own referrers in turn (a signature of an SBOM), within bounds.
 */
import { referrerKind, type ReferrerKind } from './format.ts';
import type { RegistrySource } from './source.ts';

export interface ReferrerNode {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  kind: ReferrerKind;
  annotations: Array<[string, string]>;
  /** Found through this cosign-style tag rather than the referrers API. */
  tag?: string;
  children: ReferrerNode[];
}

const maxDepth = 4;
const maxNodes = 200;

const cosignSuffixes: Array<[string, ReferrerKind]> = [
  ['sig', 'signature'],
  ['att', 'attestation'],
  ['sbom', 'sbom'],
];

const pairs = (a: Record<string, string> | undefined): Array<[string, string]> =>
  Object.entries(a ?? {})
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));

export async function referrerTree(src: RegistrySource, name: string, digest: string): Promise<ReferrerNode[]> {
  let budget = maxNodes;
  const seen = new Set<string>([digest]);
  const level = async (subject: string, depth: number): Promise<ReferrerNode[]> => {
    const nodes: ReferrerNode[] = [];
    for (const d of await src.referrers(name, subject)) {
      if (budget <= 0 || seen.has(d.digest)) continue;
      budget--;
      seen.add(d.digest);
      const node: ReferrerNode = { digest: d.digest, mediaType: d.mediaType, size: d.size, kind: referrerKind(d.artifactType), annotations: pairs(d.annotations), children: [] };
      if (d.artifactType !== undefined) node.artifactType = d.artifactType;
      nodes.push(node);
    }
    const [alg, hex] = subject.split(':');
    for (const [suffix, kind] of cosignSuffixes) {
      const tag = `${alg}-${hex}.${suffix}`;
      const found = budget > 0 ? await src.resolve(name, tag) : undefined;
      if (!found || seen.has(found.digest)) continue;
      budget--;
      seen.add(found.digest);
      nodes.push({ digest: found.digest, mediaType: found.mediaType, size: found.size, kind, annotations: [], tag, children: [] });
    }
    if (depth < maxDepth) for (const n of nodes) n.children = await level(n.digest, depth + 1);
    return nodes;
  };
  return level(digest, 1);
}
