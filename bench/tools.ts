import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Clients run on this core, servers on the other (on a 2-core machine). */
export const clientCore = ['taskset', '-c', '1'];
export const serverCore = ['taskset', '-c', '0'];

export interface WrkResult {
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
}

const toMs = (value: string, unit: string): number => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);

/** Runs wrk against one URL for `seconds` with `connections` connections and parses its report. */
export async function wrk(url: string, opts: { seconds?: number; connections?: number; method?: string; headers?: Record<string, string> } = {}): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections ?? 32}`, `-d${opts.seconds ?? 5}s`, '--latency'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (opts.method && opts.method !== 'GET') {
    const script = join(tmpdir(), `wrk-${opts.method}.lua`);
    await writeFile(script, `wrk.method = "${opts.method}"\n`);
    args.push('-s', script);
  }
  const { stdout } = await run(clientCore[0]!, [...clientCore.slice(1), 'wrk', ...args, url]);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  if (!rps || !p50 || !p99) throw new Error(`cannot read wrk output:\n${stdout}`);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} error responses from ${url}`);
  return { requestsPerSecond: Number(rps[1]), p50ms: toMs(p50[1]!, p50[2]!), p99ms: toMs(p99[1]!, p99[2]!) };
}

/** Downloads a URL with curl to /dev/null; returns bytes per second. */
export async function curlGet(url: string, opts: { followRedirects?: boolean } = {}): Promise<number> {
  const follow = opts.followRedirects ? ['-L'] : [];
  const { stdout } = await run(clientCore[0]!, [...clientCore.slice(1), 'curl', '-sS', ...follow, '-o', '/dev/null', '-w', '%{http_code} %{speed_download}', url]);
  const [code, speed] = stdout.trim().split(' ');
  if (code !== '200') throw new Error(`GET ${url}: HTTP ${code}`);
  return Number(speed);
}

/** Uploads a file with curl in one PUT; returns bytes per second. */
export async function curlPut(url: string, file: string): Promise<number> {
  const { stdout } = await run(clientCore[0]!, [
    ...clientCore.slice(1),
    'curl', '-sS', '-X', 'PUT', '-T', file, '-H', 'Content-Type: application/octet-stream', '-o', '/dev/null', '-w', '%{http_code} %{speed_upload}', url,
  ]);
  const [code, speed] = stdout.trim().split(' ');
  if (code !== '201') throw new Error(`PUT ${url}: HTTP ${code}`);
  return Number(speed);
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** A figure measured over repeats: the median the reports judge, and the range it moved in. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: number[]): Spread {
  if (xs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** `median (min–max)`, each part formatted by `format`: how every repeated figure is printed. */
export const showSpread = (s: Spread, format: (n: number) => string = (n) => n.toFixed(0)): string =>
  `${format(s.median)} (${format(s.min)}–${format(s.max)})`;

/** Runs `f` `n` times one after another and collects what it returns. */
export async function repeat<T>(n: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await f(i));
  return out;
}

/** Formats rows as an aligned plain-text table. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** User plus system CPU time a process has used, in seconds (Linux /proc; clock ticks of 1/100 s). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
