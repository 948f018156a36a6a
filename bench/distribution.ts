import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/net.ts';
import { send } from './http.ts';

export interface Distribution {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DistributionOptions {
  /** The `storage:` block's YAML lines; local disk in a temporary folder by default. */
  storage?: string[];
  /** `http.secret`: replicas behind one balancer must share it (it signs the upload state clients carry). */
  secret?: string;
  /** How long it may take to answer `/v2/` (a busy core can be slow). */
  startTimeoutMs?: number;
}

/** Starts the CNCF distribution registry (Debian's `docker-registry`), on local disk unless `opts.storage` says otherwise. */
export async function startDistribution(wrap: string[] = [], opts: DistributionOptions = {}): Promise<Distribution> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-distribution-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error, accesslog: {disabled: true}}',
      ...(opts.storage ?? [`storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`]),
      `http: {addr: "127.0.0.1:${port}"${opts.secret === undefined ? '' : `, secret: ${opts.secret}`}}`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env };
  // distribution 2.8 panics at start when AWS_CA_BUNDLE is set.
  delete env.AWS_CA_BUNDLE;
  const [bin, ...args] = [...wrap, 'docker-registry', 'serve', config];
  const child = spawn(bin!, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await send('GET', `${url}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
    // Short, so the runtimes scenario's start-up time is within 10 ms of the first answer.
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    url,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
