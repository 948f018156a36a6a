/**
 * What one retention rule decides for one repository (src/maintenance/rules.ts), with the clock and
 * the repository's contents in hand: every condition, how they combine, referrers following their
 * subject, immutable tags, and the rule and reason each decision carries.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { millis } from '../../src/config/duration.ts';
import { ImmutableTags } from '../../src/registry/immutable.ts';
import { planRepository, type HeldManifest, type HeldTag, type RepositoryPlan } from '../../src/maintenance/rules.ts';
import type { RetentionRule } from '../../src/maintenance/schema.ts';
import { parseConfig } from '../../src/schema.ts';

const now = Date.parse('2025-06-01T00:00:00Z');
const day = 86_400_000;
const digest = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;

interface Repo {
  manifests: Map<string, HeldManifest>;
  tags: HeldTag[];
  pulls: { tags: Map<string, number>; manifests: Map<string, number> };
}

const repo = (): Repo => ({ manifests: new Map(), tags: [], pulls: { tags: new Map(), manifests: new Map() } });

/** A manifest pushed `age` ago, tagged with `tags` at the same time. */
function push(r: Repo, label: string, age: number, opts: { tags?: string[]; children?: string[]; subject?: string } = {}): string {
  const key = digest(label);
  r.manifests.set(key, { key, linked: now - age, children: opts.children ?? [], subject: opts.subject });
  for (const tag of opts.tags ?? []) r.tags.push({ tag, target: key, pushed: now - age });
  return key;
}

const rule = (input: Record<string, unknown>): RetentionRule => parseConfig({ retention: { rules: [{ repositories: ['**'], ...input }] } }).retention.rules[0]!;

function plan(r: Repo, input: Record<string, unknown>, immutable?: ImmutableTags): RepositoryPlan {
  return planRepository({ name: 'team/app', ...r }, rule(input), 'retention.rules[0]', { now, immutable });
}

const deletedTags = (p: RepositoryPlan): string[] => p.tags.filter((d) => d.delete).map((d) => d.tag!).sort();
const deletedManifests = (p: RepositoryPlan): string[] => p.manifests.map((m) => m.digest).sort();
const reasonOf = (p: RepositoryPlan, tag: string): string => p.tags.find((d) => d.tag === tag)!.reason;

describe('retention rules: tags', () => {
  it('keeps the N most recently pushed tags and deletes the rest with their manifests', () => {
    const r = repo();
    const old = ['a', 'b', 'c'].map((t, i) => push(r, t, (10 - i) * day, { tags: [t] }));
    push(r, 'd', day, { tags: ['d'] });
    push(r, 'e', 0, { tags: ['e'] });
    const p = plan(r, { keepTags: [{ mostRecentlyPushedCount: 2 }] });
    expect(deletedTags(p)).toEqual(['a', 'b', 'c']);
    expect(deletedManifests(p)).toEqual([...old].sort());
    expect(reasonOf(p, 'a')).toMatch(/^picked by keepTags\[0\] \(every tag\), none of whose conditions holds \(mostRecentlyPushedCount 2\): pushed 2025-05-22T00:00:00.000Z, last pulled never$/);
    expect(reasonOf(p, 'e')).toBe('keepTags[0] (every tag): mostRecentlyPushedCount 2');
    expect(p.manifests.find((m) => m.digest === old[0])).toMatchObject({ rule: 'retention.rules[0]', reason: 'its tag a goes' });
  });

  it('keeps tags pulled within a window, and those pushed within it, never pulled yet', () => {
    const r = repo();
    push(r, 'old-pulled', 30 * day, { tags: ['old-pulled'] });
    const byDigest = push(r, 'old-digest', 30 * day, { tags: ['old-digest'] });
    push(r, 'old', 30 * day, { tags: ['old'] });
    push(r, 'new', 2 * day, { tags: ['new'] });
    r.pulls.tags.set('old-pulled', now - day);
    r.pulls.manifests.set(byDigest, now - 3 * day); // containerd: HEAD the tag, GET by digest
    const p = plan(r, { keepTags: [{ pulledWithin: '7d' }] });
    expect(deletedTags(p)).toEqual(['old']);
    expect(reasonOf(p, 'old-digest')).toBe('keepTags[0] (every tag): pulledWithin 7d');
  });

  it('ranks by last pull; a tag never pulled is not among the most recently pulled', () => {
    const r = repo();
    for (const t of ['x', 'y', 'z']) push(r, t, 10 * day, { tags: [t] });
    r.pulls.tags.set('x', now - 5 * day);
    r.pulls.tags.set('y', now - day);
    expect(deletedTags(plan(r, { keepTags: [{ mostRecentlyPulledCount: 1 }] }))).toEqual(['x', 'z']);
    expect(deletedTags(plan(r, { keepTags: [{ mostRecentlyPulledCount: 5 }] }))).toEqual(['z']);
  });

  it('gives each tag to the first keepTags entry that picks it; a tag no entry picks goes', () => {
    const r = repo();
    push(r, 'v1.0.0', 100 * day, { tags: ['v1.0.0'] });
    push(r, 'v2.0.0', 100 * day, { tags: ['v2.0.0'] });
    push(r, 'build-1', 3 * day, { tags: ['build-1'] });
    push(r, 'build-2', 2 * day, { tags: ['build-2'] });
    push(r, 'latest', 0, { tags: ['latest'] });
    push(r, 'feature-x', 0, { tags: ['feature-x'] });
    const p = plan(r, {
      keepTags: [{ semver: '>=2' }, { patterns: ['build-.*'], mostRecentlyPushedCount: 1 }, { patterns: ['latest'] }],
    });
    expect(deletedTags(p)).toEqual(['build-1', 'feature-x', 'v1.0.0']);
    expect(reasonOf(p, 'v1.0.0')).toBe('picked by no keepTags entry');
    expect(reasonOf(p, 'v2.0.0')).toBe('picked by keepTags[0] (semver >=2)');
    expect(reasonOf(p, 'build-1')).toMatch(/^picked by keepTags\[1\] \(patterns build-\.\*\), none of whose conditions holds/);
  });

  it('drops what dropTags picks whatever keepTags say; without keepTags, the other tags stay', () => {
    const r = repo();
    for (const t of ['0.9.0', '1.0.0', '1.1.0-rc.1', 'tmp-3']) push(r, t, day, { tags: [t] });
    const p = plan(r, { dropTags: [{ patterns: ['tmp-.*'] }, { semver: '<1.0.0' }] });
    // As npm reads ranges, a pre-release is in `<1.0.0` only if a comparator names one of its version.
    expect(deletedTags(p)).toEqual(['0.9.0', 'tmp-3']);
    expect(reasonOf(p, '0.9.0')).toBe('picked by dropTags[1] (semver <1.0.0)');
    expect(reasonOf(p, '1.0.0')).toBe('the rule has no keepTags');
  });

  it('never deletes an immutable tag, and keeps what it points at', () => {
    const r = repo();
    const kept = push(r, 'v1', 100 * day, { tags: ['v1'] });
    push(r, 'old', 100 * day, { tags: ['old'] });
    const immutable = new ImmutableTags(parseConfig({ tags: { immutable: [{ repositories: ['team/**'], patterns: ['v\\d+'] }] } }).tags.immutable);
    const p = plan(r, { keepTags: [{ pushedWithin: '1d' }], dropTags: [{ patterns: ['v.*'] }] }, immutable);
    expect(deletedTags(p)).toEqual(['old']);
    expect(reasonOf(p, 'v1')).toBe('immutable (tags.immutable[0])');
    expect(deletedManifests(p)).not.toContain(kept);
  });

  it('keeps an index with its children, and deletes children only the deleted index listed', () => {
    const r = repo();
    const [a, b] = [push(r, 'amd64', 50 * day), push(r, 'arm64', 50 * day)];
    push(r, 'index', 50 * day, { tags: ['old'], children: [a, b] });
    const shared = push(r, 'shared', 50 * day);
    const keptIndex = push(r, 'index2', 0, { tags: ['new'], children: [shared] });
    push(r, 'index3', 50 * day, { tags: ['older'], children: [shared] });
    const p = plan(r, { keepTags: [{ pushedWithin: '7d' }] });
    expect(deletedTags(p)).toEqual(['old', 'older']);
    expect(deletedManifests(p)).toEqual([a, b, digest('index'), digest('index3')].sort());
    expect(p.manifests.find((m) => m.digest === a)!.reason).toBe(`only ${digest('index')}, which goes, lists it`);
    expect(deletedManifests(p)).not.toContain(keptIndex);
  });
});

describe('retention rules: referrers and untagged manifests', () => {
  it('deletes a signature and an SBOM with their subject, never before it', () => {
    const r = repo();
    const oldImage = push(r, 'old', 30 * day, { tags: ['old'] });
    const sbom = push(r, 'sbom', 29 * day, { subject: oldImage });
    const sig = push(r, 'cosign-sig', 29 * day);
    r.tags.push({ tag: `${oldImage.replace(':', '-')}.sig`, target: sig, pushed: now - 29 * day });
    const newImage = push(r, 'new', day, { tags: ['new'] });
    const newSbom = push(r, 'new-sbom', 200 * day, { subject: newImage }); // old as it is, it follows a kept subject
    const newSig = push(r, 'new-sig', 200 * day);
    r.tags.push({ tag: `${newImage.replace(':', '-')}.sig`, target: newSig, pushed: now - 200 * day });

    const p = plan(r, { keepTags: [{ mostRecentlyPushedCount: 1 }], deleteUntaggedAfter: '1d' });
    expect(deletedTags(p)).toEqual([`${oldImage.replace(':', '-')}.sig`, 'old'].sort());
    expect(deletedManifests(p)).toEqual([oldImage, sbom, sig].sort());
    expect(p.manifests.find((m) => m.digest === sbom)).toMatchObject({ reason: `its subject ${oldImage} goes`, subject: oldImage });
    expect(reasonOf(p, `${oldImage.replace(':', '-')}.sig`)).toBe(`follows ${oldImage}, which goes`);
    expect(reasonOf(p, `${newImage.replace(':', '-')}.sig`)).toBe(`follows ${newImage}, which stays`);
    for (const d of [newImage, newSbom, newSig]) expect(deletedManifests(p)).not.toContain(d);
  });

  it('a tagged referrer follows its subject, not the tag rules', () => {
    const r = repo();
    const image = push(r, 'image', 0, { tags: ['v1'] });
    push(r, 'sbom', 100 * day, { subject: image, tags: ['sbom-v1'] });
    expect(deletedTags(plan(r, { keepTags: [{ patterns: ['v.*'] }] }))).toEqual([]);
  });

  it('deletes manifests untagged before the pass once older than deleteUntaggedAfter, and keeps them without it', () => {
    const r = repo();
    const oldUntagged = push(r, 'by-digest', 10 * day);
    const young = push(r, 'young', 0);
    const danglingReferrer = push(r, 'dangling', 10 * day, { subject: digest('gone') });
    push(r, 'tagged', 10 * day, { tags: ['keep'] });
    const p = plan(r, { keepTags: [{ patterns: ['keep'] }], deleteUntaggedAfter: '7d' });
    expect(deletedManifests(p)).toEqual([oldUntagged, danglingReferrer].sort());
    expect(p.manifests.find((m) => m.digest === oldUntagged)!.reason).toBe('untagged, pushed more than 7d ago');
    expect(p.manifests.find((m) => m.digest === danglingReferrer)!.reason).toBe(`a referrer of ${digest('gone')}, which is not in the repository, pushed more than 7d ago`);
    expect(deletedManifests(p)).not.toContain(young);
    expect(deletedManifests(plan(r, { keepTags: [{ patterns: ['keep'] }] }))).toEqual([]);
  });

  it('keeps a cosign tag whose subject is not here, until the untagged window passes', () => {
    const r = repo();
    const sig = push(r, 'sig', 10 * day);
    const tag = `${digest('elsewhere').replace(':', '-')}.sig`;
    r.tags.push({ tag, target: sig, pushed: now - 10 * day });
    expect(deletedTags(plan(r, { keepTags: [{ patterns: ['v.*'] }] }))).toEqual([]);
    const p = plan(r, { keepTags: [{ patterns: ['v.*'] }], deleteUntaggedAfter: millis(day) / 1000 });
    expect(deletedTags(p)).toEqual([tag]);
    expect(deletedManifests(p)).toEqual([sig]);
  });
});
