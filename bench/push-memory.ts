import { blobChunks } from './blob-source.ts';
import { expectStatus, locate, send } from './http.ts';
import { resetPeak, rss } from './rss.ts';
import { spread, type Spread } from './tools.ts';

export interface Target {
  name: string;
  url: string;
  pid: number;
}

/** One push. */
export interface PushSample {
  target: string;
  mode: string;
  seconds: number;
  mbPerSecond: number;
  idleRss: number;
  peakRss: number;
}

/** One target's pushes in one mode over the repeats. */
export interface PushResult {
  target: string;
  mode: string;
  mbPerSecond: Spread;
  idleRss: Spread;
  peakOverIdle: Spread;
}

/** Groups samples by target and mode, in the order they first appear. */
export function summarisePushes(samples: PushSample[]): PushResult[] {
  const groups = new Map<string, PushSample[]>();
  for (const s of samples) {
    const key = `${s.target}\u0000${s.mode}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => ({
    target: g[0]!.target,
    mode: g[0]!.mode,
    mbPerSecond: spread(g.map((s) => s.mbPerSecond)),
    idleRss: spread(g.map((s) => s.idleRss)),
    peakOverIdle: spread(g.map((s) => s.peakRss - s.idleRss)),
  }));
}

const withDigest = (location: string, digest: string): string => {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
};

/** Pushes `size` bytes in one PUT (after POST), the way most clients push a layer. */
async function pushMonolithic(t: Target, repo: string, size: number, blob: ReturnType<typeof blobChunks>, digest: string): Promise<void> {
  const start = expectStatus(await send('POST', `${t.url}/v2/${repo}/blobs/uploads/`), 202, `${t.name} POST`);
  const put = await send(
    'PUT',
    withDigest(locate(t.url, start), digest),
    { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    blob.chunks(),
  );
  expectStatus(put, 201, `${t.name} PUT`);
}

/** Pushes `size` bytes as 1 MiB PATCHes with Content-Range, then a PUT closing the session. */
async function pushChunked(t: Target, repo: string, size: number, blob: ReturnType<typeof blobChunks>, digest: string): Promise<void> {
  let location = locate(t.url, expectStatus(await send('POST', `${t.url}/v2/${repo}/blobs/uploads/`), 202, `${t.name} POST`));
  let offset = 0;
  for (const chunk of blob.chunks()) {
    const patch = await send(
      'PATCH',
      location,
      {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(chunk.length),
        'Content-Range': `${offset}-${offset + chunk.length - 1}`,
      },
      chunk,
    );
    location = locate(t.url, expectStatus(patch, 202, `${t.name} PATCH at ${offset}`));
    offset += chunk.length;
  }
  expectStatus(await send('PUT', withDigest(location, digest), { 'Content-Length': '0' }), 201, `${t.name} final PUT`);
}

export const pushModes = { 'one PUT': pushMonolithic, '1 MiB PATCHes': pushChunked } as const;

/** Runs one push while tracking the server's peak RSS (reset just before the run). */
export async function measurePush(t: Target, mode: keyof typeof pushModes, size: number): Promise<PushSample> {
  const blob = blobChunks(size);
  const digest = blob.digest();
  const repo = `bench/push-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  await new Promise((r) => setTimeout(r, 200));
  const idle = await rss(t.pid);
  await resetPeak(t.pid);
  const started = performance.now();
  await pushModes[mode](t, repo, size, blob, digest);
  const seconds = (performance.now() - started) / 1000;
  const { peak } = await rss(t.pid);
  return { target: t.name, mode, seconds, mbPerSecond: size / 1e6 / seconds, idleRss: idle.current, peakRss: peak };
}
