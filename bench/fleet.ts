import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedis, type RedisServer } from '../test/support/redis.ts';
import { startRoundRobin } from '../test/support/round-robin.ts';
import { startS3Counter, type S3Counter } from '../test/support/s3-counter.ts';
import { createBucket, emptyBucket, startS3, startS3Server, type S3Server } from '../test/support/s3.ts';
import { startDistribution, type Distribution } from './distribution.ts';
import { makeLayeredImage, type LayeredImage } from './layered-image.ts';
import { clientCore, median, serverCore, showSpread, spread, table, wrk } from './tools.ts';

const run = promisify(execFile);
const MiB = 1024 ** 2;
const repo = 'bench/fleet';
const replicas = 3;
const quiet = { BERTH_LOG__REQUESTS: 'false' };
/** distribution's `http.secret`, the same for every replica of a run. */
const secret = randomBytes(16).toString('hex');
const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' };

type Target = 'distribution' | 'berth' | 'berth-redis' | 'berth-redis-redirect';
const label: Record<Target, string> = {
  distribution: 'distribution 2.8 ×3 (S3 driver)',
  berth: 'berth ×3 (node)',
  'berth-redis': 'berth ×3 (node) + Redis',
  'berth-redis-redirect': 'berth ×3 (node) + Redis + redirect',
};
const withRedis = (t: Target): boolean => t === 'berth-redis' || t === 'berth-redis-redirect';

/** What one round measured on one target. */
interface Round {
  push: number;
  pull: number;
  manifestRps: number;
  /** S3 requests by kind during the push, the pull, and per manifest GET. */
  pushRequests: Record<string, number>;
  pullRequests: Record<string, number>;
  perManifestGet: number;
}

export type FleetFigures = Partial<Record<Target, Round[]>>;

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** CNCF distribution with its S3 driver on `bucket` through `endpoint` (the counting proxy), pinned to the server core. */
async function startS3Distribution(s3: S3Server, endpoint: string, bucket: string): Promise<Distribution> {
  const storage = [
    'storage:',
    '  s3:',
    `    accesskey: ${s3.accessKeyId}`,
    `    secretkey: ${s3.secretAccessKey}`,
    `    region: ${s3.region}`,
    `    regionendpoint: ${endpoint}`,
    `    bucket: ${bucket}`,
    '    secure: false',
    '    v4auth: true',
    '    rootdirectory: /distribution',
    '  delete: {enabled: true}',
    '  cache: {blobdescriptor: inmemory}',
  ];
  return startDistribution(serverCore, { storage, secret, startTimeoutMs: 120_000 });
}

/** Three replicas of `target` on a fresh bucket, behind a round-robin balancer. */
async function startFleetOf(target: Target, s3: S3Server, counter: S3Counter, redis: RedisServer | undefined): Promise<{ url: string; stop(): Promise<void> }> {
  const bucket = await createBucket(s3, 'bench-fleet');
  const started: Array<{ url: string; stop(): Promise<void> }> = [];
  const env = redis ? { ...quiet, BERTH_COORDINATION__REDIS__URL: redis.url } : quiet;
  // Presigned URLs name the counting proxy too: the clients' blob GETs are counted, as distribution's are.
  const storage = { endpoint: counter.endpoint, ...(target === 'berth-redis-redirect' ? { redirect: { enabled: true } } : {}) };
  try {
    // One after the other, with time to spare: a replica pinned to a busy core starts slowly.
    for (let i = 0; i < replicas; i++) {
      started.push(
        target === 'distribution'
          ? await startS3Distribution(s3, counter.endpoint, bucket)
          : await startS3Server(s3, bucket, { wrap: serverCore, env, storage, startTimeout: 120_000 }),
      );
    }
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()));
    throw e;
  }
  const balancer = await startRoundRobin(started.map((s) => s.url));
  return {
    url: balancer.url,
    stop: async () => {
      await balancer.close();
      await Promise.all(started.map((s) => s.stop()));
      await emptyBucket(s3, bucket);
      await redis?.cli('FLUSHALL');
    },
  };
}

const skopeo = (...args: string[]) => run(clientCore[0]!, [...clientCore.slice(1), 'skopeo', '--insecure-policy', ...args], { maxBuffer: 64 << 20 });

async function seconds(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return (performance.now() - started) / 1000;
}

async function round(target: Target, image: LayeredImage, s3: S3Server, counter: S3Counter, redis: RedisServer | undefined): Promise<Round> {
  const fleet = await startFleetOf(target, s3, counter, redis);
  const dest = await mkdtemp(join(tmpdir(), 'berth-bench-fleet-pull-'));
  try {
    const ref = `docker://${new URL(fleet.url).host}/${repo}:${image.tag}`;
    counter.reset();
    const push = await seconds(() => skopeo('copy', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, ref));
    const pushRequests = counter.counts();
    counter.reset();
    const pull = await seconds(() => skopeo('copy', '--src-tls-verify=false', ref, `dir:${dest}`));
    const pullRequests = counter.counts();
    const url = `${fleet.url}/v2/${repo}/manifests/${image.tag}`;
    // Warm: every replica has read the tag once.
    for (let i = 0; i < replicas * 2; i++) await fetch(url, { headers: accept }).then((r) => r.arrayBuffer());
    counter.reset();
    const byTag = await wrk(url, { headers: accept, seconds: 5 });
    const perManifestGet = counter.total() / (byTag.requestsPerSecond * 5);
    process.stderr.write(
      `  ${label[target]}: push ${push.toFixed(2)} s (${total(pushRequests)} S3 requests), pull ${pull.toFixed(2)} s (${total(pullRequests)}), manifest GET by tag ${byTag.requestsPerSecond.toFixed(0)} req/s (${perManifestGet.toFixed(2)} S3 requests each)\n`,
    );
    return { push, pull, manifestRps: byTag.requestsPerSecond, pushRequests, pullRequests, perManifestGet };
  } finally {
    await rm(dest, { recursive: true, force: true });
    await fleet.stop();
  }
}

/**
 * Issue 14: three replicas on one Ceph RGW bucket behind a round-robin balancer, CNCF distribution
 * (S3 driver, its default redirect of blob GETs to presigned URLs) against berth without and with
 * Redis, and with Redis and `storage.s3.redirect` (as distribution pulls): a cold push and a pull of the 50-layer image with skopeo, manifest GETs by tag with wrk,
 * and every S3 request counted by kind at a proxy in front of RGW.
 */
export async function fleetComparison(repeats = 3): Promise<{ figures: FleetFigures; report: string }> {
  const targets: Target[] = ['distribution', 'berth', 'berth-redis', 'berth-redis-redirect'];
  process.stderr.write('  fleet: writing the 50-layer image\n');
  const image = await makeLayeredImage();
  const figures: Record<Target, Round[]> = { distribution: [], berth: [], 'berth-redis': [], 'berth-redis-redirect': [] };
  const s3 = await startS3();
  const counter = await startS3Counter(s3.endpoint);
  const redis = await startRedis();
  try {
    for (let i = 0; i < repeats; i++) {
      process.stderr.write(`  fleet: round ${i + 1} of ${repeats}\n`);
      for (const target of targets) figures[target].push(await round(target, image, s3, counter, withRedis(target) ? redis : undefined));
    }
  } finally {
    await redis.close();
    await counter.close();
    await s3.stop();
    await rm(image.dir, { recursive: true, force: true });
  }
  return { figures, report: report(image, repeats, targets, figures) };
}

/** Per kind, the median count over the rounds. */
function medianCounts(rounds: Round[], pick: (r: Round) => Record<string, number>): Record<string, number> {
  const kinds = new Set(rounds.flatMap((r) => Object.keys(pick(r))));
  return Object.fromEntries([...kinds].sort().map((k) => [k, median(rounds.map((r) => pick(r)[k] ?? 0))]));
}

function report(image: LayeredImage, repeats: number, targets: Target[], figures: Record<Target, Round[]>): string {
  const base = figures.distribution;
  const m = (rounds: Round[], pick: (r: Round) => number): number => median(rounds.map(pick));
  const shown = (rounds: Round[], pick: (r: Round) => number, digits: number): string => showSpread(spread(rounds.map(pick)), (n) => n.toFixed(digits));
  const faster = (ours: number, theirs: number): string => `${(theirs / ours).toFixed(2)}×`;
  // The image's layers and its config: what a push uploads and a pull fetches, besides one manifest.
  const blobs = image.layers + 1;
  const rows = [['fleet', 'push s', 'push speed-up', 'pull s', 'pull speed-up', 'manifest GET by tag req/s', '÷ distribution', 'S3 req: push', 'per blob', 'pull', 'per blob', 'per manifest GET']];
  for (const t of targets) {
    const f = figures[t];
    const [push, pull, rps] = [m(f, (r) => r.push), m(f, (r) => r.pull), m(f, (r) => r.manifestRps)];
    rows.push([
      label[t],
      shown(f, (r) => r.push, 2),
      faster(push, m(base, (r) => r.push)),
      shown(f, (r) => r.pull, 2),
      faster(pull, m(base, (r) => r.pull)),
      shown(f, (r) => r.manifestRps, 0),
      `${(rps / m(base, (r) => r.manifestRps)).toFixed(1)}×`,
      m(f, (r) => total(r.pushRequests)).toFixed(0),
      (m(f, (r) => total(r.pushRequests)) / blobs).toFixed(1),
      m(f, (r) => total(r.pullRequests)).toFixed(0),
      (m(f, (r) => total(r.pullRequests)) / blobs).toFixed(1),
      m(f, (r) => r.perManifestGet).toFixed(2),
    ]);
  }
  const kinds = [['fleet', `S3 requests during the push, by kind (per blob: ÷ ${blobs})`, 'during the pull']];
  const fmt = (c: Record<string, number>): string => Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ');
  for (const t of targets) kinds.push([label[t], fmt(medianCounts(figures[t], (r) => r.pushRequests)), fmt(medianCounts(figures[t], (r) => r.pullRequests))]);
  const ratio = (t: Target, pick: (r: Round) => number, higherIsBetter: boolean): number =>
    higherIsBetter ? m(figures[t], pick) / m(base, pick) : m(base, pick) / m(figures[t], pick);
  const verdict = (ok: boolean): string => (ok ? 'met' : 'missed');
  const targetsLines = (['berth', 'berth-redis', 'berth-redis-redirect'] as const).map(
    (t) =>
      `${label[t]}: pull ${ratio(t, (r) => r.pull, false).toFixed(2)}× (≥ 1: ${verdict(ratio(t, (r) => r.pull, false) >= 1)}), cold push ${ratio(t, (r) => r.push, false).toFixed(2)}× (≥ 3: ${verdict(ratio(t, (r) => r.push, false) >= 3)})` +
      (withRedis(t) ? `, manifest GET by tag ${ratio(t, (r) => r.manifestRps, true).toFixed(1)}× (≥ 10: ${verdict(ratio(t, (r) => r.manifestRps, true) >= 10)})` : ''),
  );
  return [
    `Three replicas on one Ceph RGW bucket behind a round-robin balancer (${image.layers} layers, ${(image.bytes / MiB).toFixed(0)} MiB; replicas on core 0, skopeo and wrk on core 1, RGW and the balancer unpinned; a fresh bucket per round; median (min–max) of ${repeats} rounds, S3 request counts as medians)`,
    'speed-up = distribution\'s seconds ÷ this fleet\'s: above 1 is faster. S3 requests counted at a proxy in front of RGW (a pull through distribution counts the clients\' presigned GETs too).',
    '',
    table(rows),
    '',
    table(kinds),
    '',
    'Issue 14\'s targets:',
    ...targetsLines.map((l) => `  ${l}`),
  ].join('\n');
}
