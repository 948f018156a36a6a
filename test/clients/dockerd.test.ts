/**
 * docker push against berth's immutable tags (issue 17: "skopeo and docker show the message"):
 * Debian's dockerd, on a data-root of its own (test/support/dockerd.ts), pushes an image it
 * imported from a tiny tar under a protected tag, then another image under the same tag: the
 * second push fails and docker's output is berth's refusal, naming the rule. Pushing the first
 * image again goes through. No network: `docker import` makes the images from local tars, and
 * dockerd talks plain HTTP to 127.0.0.1 as it does to any loopback registry.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerdMissing, startDockerd, type Dockerd } from '../support/dockerd.ts';
import { writeConfig } from '../support/mirror.ts';
import { startServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const missing = await dockerdMissing();
// CI installs docker.io and runs as root; there a missing piece fails.
const runs = missing.length === 0 || Boolean(process.env.CI);
const describeDockerd = runs ? describe : describe.skip;

describeDockerd(`docker push to a protected tag${runs ? '' : ` (skipped: needs ${missing.join(', ')})`}`, () => {
  let dir: string;
  let dockerd: Dockerd | undefined;
  let berth: TestServer;
  let configFile: string;
  let ref: string;

  const docker = (...args: string[]) => {
    if (!dockerd) throw new Error('dockerd did not start');
    return dockerd.docker(...args);
  };
  /** docker's output of a command that must fail. */
  const failure = (...args: string[]): Promise<string> =>
    docker(...args).then(
      (r) => {
        throw new Error(`docker ${args.join(' ')} succeeded:\n${r.stdout}${r.stderr}`);
      },
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  /** An image of one file, imported from a tar, as `tag`. */
  const image = async (name: string, content: string, tag: string): Promise<void> => {
    const root = join(dir, name);
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'content.txt'), content);
    await run('tar', ['-cf', `${root}.tar`, '-C', root, '.']);
    await docker('import', `${root}.tar`, tag);
  };

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`CI is set, so this test must run, but it needs ${missing.join(', ')}`);
    dir = await mkdtemp(join(tmpdir(), 'berth-docker-push-'));
    configFile = await writeConfig(JSON.stringify({ tags: { immutable: [{ repositories: ['team/**'], patterns: ['v\\d+\\.\\d+\\.\\d+'] }] } }));
    berth = await startServer({ args: ['--config', configFile] });
    ref = `${new URL(berth.url).host}/team/app:v1.2.0`;
    dockerd = await startDockerd(dir);
  }, 120_000);

  afterAll(async () => {
    await dockerd?.stop();
    await berth?.stop();
    for (const d of [dir, configFile && join(configFile, '..')]) if (d) await rm(d, { recursive: true, force: true });
  });

  it("shows berth's refusal, naming the rule, when a push would move the tag; the same image again goes through", async () => {
    await image('first', 'the first release\n', ref);
    await docker('push', ref).catch((e: unknown) => {
      throw new Error(`docker push failed: ${e instanceof Error ? e.message : String(e)}\n--- dockerd:\n${dockerd?.log() ?? ''}\n--- berth:\n${berth.logs()}`);
    });
    const pushed = (await docker('image', 'inspect', '--format', '{{index .RepoDigests 0}}', ref)).stdout.trim();
    expect(pushed).toMatch(/@sha256:[0-9a-f]{64}$/);

    await image('second', 'other content under the same version\n', ref);
    const output = await failure('push', ref);
    expect(output).toMatch(/denied: tag v1\.2\.0 in team\/app is immutable \(tags\.immutable\[0\]: repositories team\/\*\*; /);
    expect(output).toContain(`points at ${pushed.split('@')[1]}: push this manifest under a new tag`);

    // The first image, tagged again, is no move.
    await docker('tag', pushed, ref);
    await docker('push', ref);
  });
});
