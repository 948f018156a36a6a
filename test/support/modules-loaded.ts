import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(import.meta.dirname, '..', '..');

/**
 * Every module a registry loads (berth's own from dist/, and packages from node_modules), as Node's
 * resolve hook sees them, and the CommonJS files those packages require (which the hook does not
 * see), in a process of its own: a registry is created from `config` (local disk
 * in a temporary folder unless `config` names storage), answers `/v2/` (not with a 5xx) once storage is ready, and is
 * closed. Storage that never becomes ready (an unreachable S3) still shows what creating it loaded.
 */
export async function modulesLoaded(config: Record<string, unknown>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-modules-'));
  try {
    const log = join(dir, 'modules.txt');
    const register = resolveLogger(log);
    const full = { storage: { fs: { root: join(dir, 'data') } }, log: { level: 'silent' }, ...config };
    const script = `const { createRegistry } = await import(${JSON.stringify(join(root, 'dist/src/index.js'))});
const berth = await createRegistry(${JSON.stringify(full)});
if (await berth.ready.then(() => true, () => false)) {
  if ((await berth.app.request('/v2/')).status >= 500) throw new Error('no answer');
}
await berth.close();
const { createRequire } = await import('node:module');
const { pathToFileURL } = await import('node:url');
const required = Object.keys(createRequire(${JSON.stringify(join(root, 'package.json'))}).cache).map((f) => pathToFileURL(f).href);
(await import('node:fs')).appendFileSync(${JSON.stringify(log)}, required.join('\\n') + '\\n');`;
    await promisify(execFile)(process.execPath, ['--import', register, '--input-type=module', '-e', script]);
    return [...new Set((await readFile(log, 'utf8')).split('\n').filter(Boolean))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An `--import` module that appends every module URL Node resolves to `log`. */
function resolveLogger(log: string): string {
  const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}

/**
 * Every module `berth serve` loads on Node (dist/runtimes/node.js, as `npm start` and the image
 * run it) with the default configuration on a temporary data directory, until it has answered
 * `GET /v2/` and been stopped with SIGTERM.
 */
export async function modulesLoadedByServe(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-modules-'));
  try {
    const log = join(dir, 'modules.txt');
    const child = spawn(process.execPath, ['--import', resolveLogger(log), join(root, 'dist/runtimes/node.js'), 'serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'data')], {
      env: { ...process.env, BERTH_LOG__LEVEL: 'info', BERTH_LOG__REQUESTS: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    let stderr = '';
    child.stderr.setEncoding('utf8');
    const url = await new Promise<string>((ok, fail) => {
      child.stderr.on('data', (d: string) => {
        stderr += d;
        const m = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(stderr);
        if (m?.[1]) ok(m[1]);
      });
      void exited.then((code) => fail(new Error(`berth serve exited with ${code}: ${stderr}`)));
    });
    try {
      const answer = await fetch(`${url}/v2/`);
      await answer.arrayBuffer();
      if (answer.status !== 200) throw new Error(`GET /v2/ answered ${answer.status}`);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    return [...new Set((await readFile(log, 'utf8')).split('\n').filter(Boolean))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The packages among `urls` (`@aws-sdk/client-s3`, `hono`), each once. */
export const packagesIn = (urls: string[]): string[] =>
  [
    ...new Set(
      urls.flatMap((u) => {
        const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
        return m ? [m[1] as string] : [];
      }),
    ),
  ].sort();
