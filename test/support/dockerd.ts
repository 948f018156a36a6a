/**
 * Debian's dockerd for client tests: a private daemon with its own data-root, exec-root, socket,
 * pidfile and trust key in a temporary directory, vfs storage, no bridge, no iptables, no
 * ip_forward change, so nothing in /etc/docker, /var/lib/docker or /var/run/docker is shared with
 * the host or with another test's daemon; and the docker CLI against it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasTool } from './auth.ts';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What dockerd needs here that may be missing: the daemon, the CLI, and root. */
export const dockerdMissing = async (): Promise<string[]> => [
  ...((await hasTool('dockerd')) ? [] : ['dockerd']),
  ...((await hasTool('docker')) ? [] : ['docker']),
  ...(process.getuid?.() === 0 ? [] : ['root']),
];

export interface Dockerd {
  /** Runs the docker CLI against this daemon (its own config directory: logins stay here). */
  docker(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** What the daemon wrote so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts dockerd with everything under `dir` and `settings` added to its daemon.json; waits until it answers. */
export async function startDockerd(dir: string, settings: Record<string, unknown> = {}): Promise<Dockerd> {
  const docker = (...args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`, DOCKER_CONFIG: join(dir, 'cli') };
    delete env.DOCKER_CONTEXT;
    delete env.DOCKER_TLS_VERIFY;
    delete env.DOCKER_CERT_PATH;
    return run('docker', args, { env, maxBuffer: 16 << 20 });
  };
  const daemon = {
    ...settings,
    'storage-driver': 'vfs',
    iptables: false,
    ip6tables: false,
    'ip-forward': false,
    bridge: 'none',
    'data-root': join(dir, 'root'),
    'exec-root': join(dir, 'exec'),
    pidfile: join(dir, 'docker.pid'),
    'deprecated-key-path': join(dir, 'key.json'),
    hosts: [`unix://${join(dir, 'docker.sock')}`],
  };
  await writeFile(join(dir, 'daemon.json'), JSON.stringify(daemon, null, 2));
  let log = '';
  const child: ChildProcess = spawn('dockerd', ['--config-file', join(dir, 'daemon.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (e) => (log += `spawn: ${e.message}\n`));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    // dockerd bind-mounts its data-root onto itself and undoes that on a clean exit; not after a kill.
    await run('umount', [join(dir, 'root')]).catch(() => undefined);
  };
  for (let started = Date.now(); ; await sleep(200)) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    if (await docker('version').then(() => true, () => false)) break;
    if (Date.now() - started > 30_000) {
      await stop();
      throw new Error(`dockerd did not answer in 30 s:\n${log}`);
    }
  }
  return { docker, log: () => log, stop };
}
