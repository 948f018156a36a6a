import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';

// No image build here (the base images are on Docker Hub, out of reach): check what can be checked
// without one. Every COPY from the build context names a file that exists, and each stage's command
// serves /healthz when run as is.
const root = resolve(import.meta.dirname, '..', '..');
const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');

interface Stage {
  name: string;
  copies: string[];
  command: string[];
}

function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from?.[1]) out.push({ name: from[1], copies: [], command: [] });
    const stage = out.at(-1);
    if (!stage) continue;
    const copy = /^COPY\s+(?!--from)(.+)$/i.exec(line);
    if (copy?.[1]) stage.copies.push(...copy[1].split(/\s+/).slice(0, -1));
    const entry = /^ENTRYPOINT\s+(\[.*\])$/i.exec(line);
    if (entry?.[1]) stage.command = JSON.parse(entry[1]) as string[];
    const cmd = /^CMD\s+(\[.*\])$/i.exec(line);
    if (cmd?.[1]) stage.command.push(...(JSON.parse(cmd[1]) as string[]));
  }
  return out;
}

/** The image's binary, taken from the repository instead: node itself, or bun/deno from node_modules. */
const binary = (name: string): string => (name === 'node' ? process.execPath : join(root, 'node_modules', '.bin', name));

async function servesHealthz(command: string[]): Promise<number> {
  const [bin, ...args] = command;
  const port = await freePort();
  const data = await mkdtemp(join(tmpdir(), 'berth-docker-'));
  // The image's workdir /app holds what the repository root holds after `npm run build`.
  const child = spawn(binary(bin!), args, {
    cwd: root,
    env: { ...process.env, BERTH_LISTEN: `127.0.0.1:${port}`, BERTH_DATA: data },
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 100; i++) {
      const status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 0) return status;
      await new Promise((r) => setTimeout(r, 200));
    }
    return 0;
  } finally {
    child.kill('SIGTERM');
    await rm(data, { recursive: true, force: true });
  }
}

describe('Dockerfile', () => {
  const all = stages(dockerfile);

  it('has the build stage and one target per runtime, node last (the default)', () => {
    expect(all.map((s) => s.name)).toEqual(['build', 'bun', 'deno', 'node']);
  });

  it('copies only files that exist in the repository', () => {
    const sources = all.flatMap((s) => s.copies);
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) expect(existsSync(join(root, source)), `COPY ${source}`).toBe(true);
  });

  for (const stage of all.filter((s) => s.command.length > 0)) {
    it(`runs the ${stage.name} target's command outside a container: ${stage.command.join(' ')}`, async () => {
      expect(await servesHealthz(stage.command)).toBe(200);
    });
  }
});
