import { check, expectContentType, expectError, expectJsonObject, expectStatus, fail, isRecord } from '../assert.ts';
import type { Reply } from '../client.ts';
import {
  MediaTypes,
  content,
  descriptorOf,
  emptyConfig,
  imageIndex,
  imageManifest,
  randomBlob,
  uniqueId,
  unknownDigest,
  utf8,
  type Content,
} from '../fixtures.ts';
import { paths, pushBlob, pushImage, pushManifest } from '../operations.ts';
import type { CaseContext, CaseDefinition } from '../types.ts';

/** Pushed in this (unsorted) order. All lower case, so lexical and ASCIIbetical order agree. */
const TAGS = ['v2', 'latest', '1.0', 'v10', 'alpha', 'beta-1', 'v1', 'zeta'];
const SORTED_TAGS = [...TAGS].sort();

async function pushTaggedRepo(ctx: CaseContext): Promise<string> {
  const repo = ctx.repo('tags');
  const { manifest } = await pushImage(ctx, repo);
  for (const tag of TAGS) await pushManifest(ctx, repo, tag, manifest);
  return repo;
}

function tagsOf(reply: Reply, repo: string): string[] {
  expectStatus(reply, 200);
  const body = expectJsonObject(reply);
  check(body['name'] === repo, `tags list "name" is ${JSON.stringify(body['name'])}, expected "${repo}"`);
  const tags = body['tags'];
  if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string')) {
    fail(`tags list "tags" is ${JSON.stringify(tags)}, expected an array of strings`);
  }
  return tags;
}

function listTags(ctx: CaseContext, repo: string, query: Record<string, string> = {}): Promise<Reply> {
  return ctx.client.request('GET', paths.tags(repo), { query });
}

/** The `rel="next"` target of an RFC 8288 Link header, resolved against the request URL. */
function nextLink(reply: Reply): URL | undefined {
  const header = reply.header('Link');
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (match?.[1] !== undefined && /\brel\s*=\s*"?next"?/i.test(match[2] ?? '')) return new URL(match[1], reply.url);
  }
  return undefined;
}

/**
 * Spec: tags list `n` — exactly `n` tags unless fewer remain, or fewer with a Link header that
 * announces the rest.
 */
function expectPage(ctx: CaseContext, reply: Reply, repo: string, expected: string[], what: string): void {
  const tags = tagsOf(reply, repo);
  if (tags.length > 0 && tags.length < expected.length && nextLink(reply)) {
    sameList(tags, expected.slice(0, tags.length), what);
    ctx.note(`returned ${tags.length} of ${expected.length} with a Link header (allowed)`);
    return;
  }
  sameList(tags, expected, what);
}

function sameList(actual: string[], expected: string[], what: string): void {
  check(
    actual.length === expected.length && actual.every((v, i) => v === expected[i]),
    `${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}]`,
  );
}

function repositoriesOf(reply: Reply): string[] {
  expectStatus(reply, 200);
  const repositories = expectJsonObject(reply)['repositories'];
  if (!Array.isArray(repositories) || !repositories.every((r): r is string => typeof r === 'string')) {
    fail(`catalog "repositories" is ${JSON.stringify(repositories)}, expected an array of strings`);
  }
  return repositories;
}

// ---- referrers ----

const SBOM_TYPE = 'application/vnd.conformance.sbom.v1';
const SIGNATURE_CONFIG_TYPE = 'application/vnd.conformance.signature.config.v1+json';

interface ReferrerGraph {
  repo: string;
  subject: Content;
  /** Has its own artifactType. */
  sbom: Content;
  sbomAnnotations: Record<string, string>;
  /** Has no artifactType: the referrers entry takes the config's media type. */
  signature: Content;
}

async function pushReferrerGraph(ctx: CaseContext): Promise<ReferrerGraph> {
  const repo = ctx.repo('referrers');
  const { manifest: subject } = await pushImage(ctx, repo, { tag: 'subject' });
  const subjectDescriptor = descriptorOf(subject);
  const empty = emptyConfig();
  const signatureConfig = content(utf8('{}'), SIGNATURE_CONFIG_TYPE);
  const sbomLayer = randomBlob(256);
  const signatureLayer = randomBlob(128);
  for (const blob of [empty, signatureConfig, sbomLayer, signatureLayer]) await pushBlob(ctx, repo, blob);
  const sbomAnnotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'conformance.id': uniqueId() };
  const sbom = imageManifest({ config: empty, layers: [sbomLayer], subject: subjectDescriptor, artifactType: SBOM_TYPE, annotations: sbomAnnotations });
  const signature = imageManifest({ config: signatureConfig, layers: [signatureLayer], subject: subjectDescriptor });
  await pushManifest(ctx, repo, sbom.digest, sbom);
  await pushManifest(ctx, repo, signature.digest, signature);
  return { repo, subject, sbom, sbomAnnotations, signature };
}

type Entry = Record<string, unknown>;

/** Spec: Listing Referrers — 200, an OCI image index, Content-Type application/vnd.oci.image.index.v1+json. */
function referrersOf(reply: Reply): Entry[] {
  expectStatus(reply, 200);
  expectContentType(reply, MediaTypes.ociIndex);
  const body = expectJsonObject(reply);
  check(body['schemaVersion'] === 2, `referrers index schemaVersion is ${JSON.stringify(body['schemaVersion'])}, expected 2`);
  check(body['mediaType'] === MediaTypes.ociIndex, `referrers index mediaType is ${JSON.stringify(body['mediaType'])}`);
  const manifests = body['manifests'];
  if (!Array.isArray(manifests) || !manifests.every(isRecord)) fail(`referrers "manifests" is ${JSON.stringify(manifests)}, expected an array of descriptors`);
  return manifests;
}

function entryFor(entries: Entry[], item: Content, what: string): Entry {
  const entry = entries.find((e) => e['digest'] === item.digest);
  if (!entry) fail(`${what} ${item.digest} is missing from the referrers list (${entries.length} entries)`);
  return entry;
}

function getReferrers(ctx: CaseContext, repo: string, digest: string, query: Record<string, string> = {}): Promise<Reply> {
  return ctx.client.request('GET', paths.referrers(repo, digest), { query });
}

export const discoveryCases: CaseDefinition[] = [
  {
    name: 'tags list → 200 with the repository name and every tag in lexical order (end-8a)',
    async run(ctx) {
      const repo = await pushTaggedRepo(ctx);
      sameList(tagsOf(await listTags(ctx, repo), repo), SORTED_TAGS, 'tags');
    },
  },
  {
    name: 'tags list ?n=2 → the first 2 tags (end-8b)',
    async run(ctx) {
      const repo = await pushTaggedRepo(ctx);
      expectPage(ctx, await listTags(ctx, repo, { n: '2' }), repo, SORTED_TAGS.slice(0, 2), 'tags ?n=2');
    },
  },
  {
    name: 'tags list ?n=2 → Link rel="next" (RFC 8288) while more remain; following it yields every tag',
    level: 'optional',
    async run(ctx) {
      const repo = await pushTaggedRepo(ctx);
      let reply = await listTags(ctx, repo, { n: '2' });
      const seen = [...tagsOf(reply, repo)];
      if (!nextLink(reply)) fail(`no Link rel="next" header on a partial page (${reply.describe()})`);
      for (let page = 0; page < 20; page++) {
        const next = nextLink(reply);
        if (!next) break;
        reply = await ctx.client.request('GET', next);
        seen.push(...tagsOf(reply, repo));
      }
      check(nextLink(reply) === undefined, 'Link rel="next" still present after 20 pages');
      sameList(seen, SORTED_TAGS, 'tags collected by following Link');
    },
  },
  {
    name: 'tags list ?n=2&last=<tag> → the 2 tags after <tag>',
    async run(ctx) {
      const repo = await pushTaggedRepo(ctx);
      const last = SORTED_TAGS[1] ?? '';
      expectPage(ctx, await listTags(ctx, repo, { n: '2', last }), repo, SORTED_TAGS.slice(2, 4), `tags ?n=2&last=${last}`);
    },
  },
  {
    name: 'tags list ?last=<tag> (no n) → every tag after <tag>',
    async run(ctx) {
      const repo = await pushTaggedRepo(ctx);
      const last = SORTED_TAGS[3] ?? '';
      sameList(tagsOf(await listTags(ctx, repo, { last }), repo), SORTED_TAGS.slice(4), `tags ?last=${last}`);
    },
  },
  {
    name: 'tags list ?n=0 → an empty list and no Link header',
    async run(ctx) {
      const repo = await pushTaggedRepo(ctx);
      const reply = await listTags(ctx, repo, { n: '0' });
      sameList(tagsOf(reply, repo), [], 'tags ?n=0');
      check(reply.header('Link') === null, `Link header on n=0: ${reply.header('Link')}`);
    },
  },
  {
    name: 'tags list of a repository without tags → 200 with an empty list',
    async run(ctx) {
      const repo = ctx.repo('untagged');
      await pushImage(ctx, repo);
      sameList(tagsOf(await listTags(ctx, repo), repo), [], 'tags of an untagged repository');
    },
  },
  {
    name: 'tags list of an unknown repository → 404 NAME_UNKNOWN',
    async run(ctx) {
      expectError(await listTags(ctx, ctx.repo('never-pushed')), 404, 'NAME_UNKNOWN');
    },
  },
  {
    name: 'catalog GET /v2/_catalog lists pushed repositories (Docker API; not in the spec endpoint table)',
    level: 'berth',
    async run(ctx) {
      const repos = [ctx.repo('catalog'), ctx.repo('catalog')];
      for (const repo of repos) await pushImage(ctx, repo);
      let reply = await ctx.client.request('GET', paths.catalog, { query: { n: '100' } });
      const seen = new Set(repositoriesOf(reply));
      for (let page = 0; page < 100 && !repos.every((r) => seen.has(r)); page++) {
        const next = nextLink(reply);
        if (!next) break;
        reply = await ctx.client.request('GET', next);
        for (const repo of repositoriesOf(reply)) seen.add(repo);
      }
      const missing = repos.filter((r) => !seen.has(r));
      check(missing.length === 0, `catalog does not list ${missing.join(', ')}`);
    },
  },
  {
    name: 'catalog ?n=1 → one repository and a Link rel="next" header',
    level: 'berth',
    async run(ctx) {
      for (const label of ['catalog-a', 'catalog-b']) await pushImage(ctx, ctx.repo(label));
      const reply = await ctx.client.request('GET', paths.catalog, { query: { n: '1' } });
      const repositories = repositoriesOf(reply);
      check(repositories.length === 1, `catalog ?n=1 returned ${repositories.length} repositories`);
      check(nextLink(reply) !== undefined, `no Link rel="next" header (${reply.header('Link') ?? 'none'})`);
    },
  },
  {
    name: 'referrers → 200 OCI index listing the manifests whose subject is the digest (end-12a)',
    level: 'optional',
    async run(ctx) {
      const graph = await pushReferrerGraph(ctx);
      const entries = referrersOf(await getReferrers(ctx, graph.repo, graph.subject.digest));
      entryFor(entries, graph.sbom, 'referrer (artifact with artifactType)');
      entryFor(entries, graph.signature, 'referrer (artifact without artifactType)');
      check(entries.length === 2, `expected 2 referrers, got ${entries.length}`);
    },
  },
  {
    name: 'referrers entries carry mediaType, digest, size, artifactType and the annotations',
    level: 'optional',
    async run(ctx) {
      const graph = await pushReferrerGraph(ctx);
      const entry = entryFor(referrersOf(await getReferrers(ctx, graph.repo, graph.subject.digest)), graph.sbom, 'sbom referrer');
      check(entry['mediaType'] === MediaTypes.ociManifest, `mediaType is ${JSON.stringify(entry['mediaType'])}`);
      check(entry['size'] === graph.sbom.size, `size is ${JSON.stringify(entry['size'])}, expected ${graph.sbom.size}`);
      check(entry['artifactType'] === SBOM_TYPE, `artifactType is ${JSON.stringify(entry['artifactType'])}, expected ${SBOM_TYPE}`);
      const annotations = entry['annotations'];
      check(
        isRecord(annotations) && Object.entries(graph.sbomAnnotations).every(([k, v]) => annotations[k] === v),
        `annotations are ${JSON.stringify(annotations)}, expected ${JSON.stringify(graph.sbomAnnotations)}`,
      );
    },
  },
  {
    name: 'referrers artifactType falls back to config.mediaType when the manifest has none',
    level: 'optional',
    async run(ctx) {
      const graph = await pushReferrerGraph(ctx);
      const entry = entryFor(referrersOf(await getReferrers(ctx, graph.repo, graph.subject.digest)), graph.signature, 'signature referrer');
      check(
        entry['artifactType'] === SIGNATURE_CONFIG_TYPE,
        `artifactType is ${JSON.stringify(entry['artifactType'])}, expected the config media type ${SIGNATURE_CONFIG_TYPE}`,
      );
    },
  },
  {
    name: 'referrers ?artifactType= → only matching entries and OCI-Filters-Applied: artifactType (end-12b)',
    level: 'optional',
    async run(ctx) {
      const graph = await pushReferrerGraph(ctx);
      const reply = await getReferrers(ctx, graph.repo, graph.subject.digest, { artifactType: SBOM_TYPE });
      const entries = referrersOf(reply);
      const applied = (reply.header('OCI-Filters-Applied') ?? '').split(',').map((v) => v.trim());
      if (!applied.includes('artifactType')) fail(`no OCI-Filters-Applied: artifactType header (filtering is a SHOULD; got ${entries.length} entries)`);
      check(entries.length === 1 && entries[0]?.['digest'] === graph.sbom.digest, `filtered list has ${entries.length} entries, expected only the sbom`);
    },
  },
  {
    name: 'referrers of a digest nothing refers to → 200 with an empty manifests list (never 404)',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('referrers');
      const { manifest } = await pushImage(ctx, repo);
      const entries = referrersOf(await getReferrers(ctx, repo, manifest.digest));
      check(entries.length === 0, `expected no referrers, got ${entries.length}`);
      const unknown = referrersOf(await getReferrers(ctx, repo, unknownDigest()));
      check(unknown.length === 0, `expected no referrers for an unknown digest, got ${unknown.length}`);
    },
  },
  {
    name: 'referrers with a malformed digest → 400',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('referrers');
      await pushImage(ctx, repo);
      expectError(await getReferrers(ctx, repo, `sha256:${'z'.repeat(64)}`), 400);
    },
  },
  {
    name: 'referrers lists an index with a subject, without artifactType when the index has none',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('referrers');
      const { manifest: subject } = await pushImage(ctx, repo, { tag: 'subject' });
      const child = await pushImage(ctx, repo);
      const index = imageIndex({ manifests: [descriptorOf(child.manifest)], subject: descriptorOf(subject), annotations: { 'conformance.id': uniqueId() } });
      await pushManifest(ctx, repo, index.digest, index);
      const entry = entryFor(referrersOf(await getReferrers(ctx, repo, subject.digest)), index, 'index referrer');
      check(entry['mediaType'] === MediaTypes.ociIndex, `mediaType is ${JSON.stringify(entry['mediaType'])}`);
      check(!('artifactType' in entry), `artifactType is ${JSON.stringify(entry['artifactType'])}, expected it omitted`);
    },
  },
  {
    name: 'referrers lists a manifest whose subject was never pushed',
    level: 'optional',
    async run(ctx) {
      const repo = ctx.repo('referrers');
      const config = emptyConfig();
      const layer = randomBlob(64);
      await pushBlob(ctx, repo, config);
      await pushBlob(ctx, repo, layer);
      const subject = { mediaType: MediaTypes.ociManifest, digest: unknownDigest(), size: 321 };
      const artifact = imageManifest({ config, layers: [layer], subject, artifactType: SBOM_TYPE });
      await pushManifest(ctx, repo, artifact.digest, artifact);
      entryFor(referrersOf(await getReferrers(ctx, repo, subject.digest)), artifact, 'referrer of a missing subject');
    },
  },
];

