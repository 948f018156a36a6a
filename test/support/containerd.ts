/** Debian's containerd for client tests: a private daemon (own root, state and socket) and `ctr` against it. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasTool } from './auth.ts';

const run = promisify(execFile);

/** Whether containerd can run here: installed, and this process is root (CI is both). */
export const containerdAvailable = async (): Promise<boolean> => (await hasTool('containerd')) && process.getuid?.() === 0;

export interface Containerd {
  /** Runs `ctr` against this daemon. */
  ctr(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  stop(): void;
}

/** Starts containerd with everything under `dir` and waits for its socket. */
export async function startContainerd(dir: string): Promise<Containerd> {
  const socket = join(dir, 'containerd.sock');
  await writeFile(
    join(dir, 'config.toml'),
    ['version = 2', `root = "${join(dir, 'root')}"`, `state = "${join(dir, 'state')}"`, '[grpc]', `  address = "${socket}"`, ''].join('\n'),
  );
  const daemon = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
  return {
    ctr: (...args) => run('ctr', ['--address', socket, ...args], { maxBuffer: 16 << 20 }),
    stop: () => void daemon.kill('SIGTERM'),
  };
}
