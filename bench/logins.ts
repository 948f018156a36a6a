/**
 * Logins cannot starve the registry (issue 12): anonymous pulls while a flood of logins from
 * unknown users and rotating addresses (X-Forwarded-For, trusted) goes on. Every login is a bcrypt
 * comparison; berth runs them off the event loop, so the pulls should barely notice.
 */
import { createHash } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { startServer, type RuntimeName } from '../test/support/server.ts';
import { expectStatus, locate, send } from './http.ts';
import { serverCore, showSpread, spread, table } from './tools.ts';

export interface LoginFloodFigures {
  runtime: RuntimeName;
  /** Logins per second the flood sends (open loop). */
  loginsPerSecond: number;
  quietP50ms: number;
  quietP99ms: number;
  floodP50ms: number;
  floodP99ms: number;
  /** How the flood's logins were answered: status → count (401 refused, 429 shed under load). */
  loginAnswers: Record<string, number>;
}

const quietSeconds = 5;
const floodSeconds = 10;
const loginsPerSecond = 15;

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A registry with one user (a cost-12 hash, as `berth htpasswd` writes) and a public repository anyone may pull and push. */
async function configFile(dir: string): Promise<string> {
  const file = join(dir, 'berth.yml');
  const config = {
    auth: {
      mode: 'token',
      users: { alice: { password: bcrypt.hashSync('alice-bench-password', 12) } },
      rules: [{ anonymous: true, repositories: ['public/**'], actions: ['push'] }],
      throttle: { trustForwardedFor: true },
    },
    log: { requests: false },
  };
  await writeFile(file, stringify(config));
  return file;
}

async function anonymousToken(base: string): Promise<string> {
  const reply = expectStatus(await send('GET', `${base}/token?service=berth&scope=repository:public/app:pull,push`), 200, 'anonymous token');
  return `Bearer ${(JSON.parse(reply.body.toString()) as { token: string }).token}`;
}

/** A config blob and a manifest naming it, tagged v1: what the pulls fetch. */
async function pushManifest(base: string, authorization: string): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const session = expectStatus(await send('POST', `${base}/v2/public/app/blobs/uploads/`, { Authorization: authorization }), 202, 'POST upload');
  const put = new URL(locate(base, session));
  put.searchParams.set('digest', sha256(config));
  expectStatus(await send('PUT', put.toString(), { Authorization: authorization, 'Content-Length': String(config.length) }, config), 201, 'PUT config');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
    }),
  );
  const headers = { Authorization: authorization, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': String(manifest.length) };
  expectStatus(await send('PUT', `${base}/v2/public/app/manifests/v1`, headers, manifest), 201, 'PUT manifest');
}

/** Pulls the manifest one request after another for `seconds`; the latency of each, in ms. */
async function pullFor(base: string, authorization: string, seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  const headers = { Authorization: authorization, Accept: 'application/vnd.oci.image.manifest.v1+json' };
  while (performance.now() < until) {
    const started = performance.now();
    expectStatus(await send('GET', `${base}/v2/public/app/manifests/v1`, headers), 200, 'anonymous pull');
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/**
 * Sends `perSecond` logins of made-up users, each from another address, without waiting for
 * answers (a flood does not wait); returns a stop function resolving to the answers' statuses.
 */
function flood(base: string, perSecond: number): () => Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const answers: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  let n = 0;
  const login = (): void => {
    n++;
    const user = `intruder-${n}-${Math.random().toString(36).slice(2, 8)}`;
    const headers = {
      Authorization: `Basic ${Buffer.from(`${user}:guess-${n}`).toString('base64')}`,
      'X-Forwarded-For': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    };
    const done = new Promise<void>((resolve) => {
      const req = request(`${base}/token?service=berth&scope=repository:public/app:pull`, { headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const key = String(res.statusCode);
          answers[key] = (answers[key] ?? 0) + 1;
          resolve();
        });
      });
      req.on('error', () => {
        answers.error = (answers.error ?? 0) + 1;
        resolve();
      });
      req.end();
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  };
  const timer = setInterval(login, 1000 / perSecond);
  return async () => {
    clearInterval(timer);
    await Promise.all(pending);
    agent.destroy();
    return answers;
  };
}

async function measure(runtime: RuntimeName): Promise<LoginFloodFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-logins-'));
  const server = await startServer({ runtime, wrap: serverCore, args: ['--config', await configFile(dir)] });
  try {
    const token = await anonymousToken(server.url);
    await pushManifest(server.url, token);
    await pullFor(server.url, token, 1); // warm up
    const quiet = await pullFor(server.url, token, quietSeconds);
    const stop = flood(server.url, loginsPerSecond);
    // Let the flood build up before measuring.
    await new Promise((r) => setTimeout(r, 1000));
    const during = await pullFor(server.url, token, floodSeconds);
    const loginAnswers = await stop();
    return {
      runtime,
      loginsPerSecond,
      quietP50ms: percentile(quiet, 50),
      quietP99ms: percentile(quiet, 99),
      floodP50ms: percentile(during, 50),
      floodP99ms: percentile(during, 99),
      loginAnswers,
    };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const ms = (n: number): string => n.toFixed(1);

/** The scenario on Node, Bun and Deno, `repeats` rounds in turn (a fresh server each); every round's figures. */
export async function loginFloodComparison(repeats = 3): Promise<{ figures: LoginFloodFigures[]; report: string }> {
  const figures: LoginFloodFigures[] = [];
  const runtimes = ['node', 'bun', 'deno'] as const;
  for (let i = 0; i < repeats; i++) {
    for (const runtime of runtimes) {
      process.stderr.write(`login flood against berth on ${runtime} (round ${i + 1} of ${repeats})...\n`);
      figures.push(await measure(runtime));
    }
  }
  const rows = [['runtime', 'pull p50 quiet ms', 'p99 quiet', `p50 during ${loginsPerSecond} logins/s`, 'p99 during', 'logins answered (all rounds)']];
  for (const runtime of runtimes) {
    const rounds = figures.filter((f) => f.runtime === runtime);
    const of = (pick: (f: LoginFloodFigures) => number): string => showSpread(spread(rounds.map(pick)), ms);
    const answers: Record<string, number> = {};
    for (const f of rounds) for (const [status, count] of Object.entries(f.loginAnswers)) answers[status] = (answers[status] ?? 0) + count;
    const answered = Object.entries(answers).map(([status, count]) => `${count}×${status}`).join(' ');
    rows.push([runtime, of((f) => f.quietP50ms), of((f) => f.quietP99ms), of((f) => f.floodP50ms), of((f) => f.floodP99ms), answered]);
  }
  return {
    figures,
    report: [
      `Anonymous manifest pulls during a login flood (${loginsPerSecond}/s, unknown users, rotating X-Forwarded-For), berth pinned to one core; median (min–max) of ${repeats} rounds\n`,
      table(rows),
    ].join('\n'),
  };
}
