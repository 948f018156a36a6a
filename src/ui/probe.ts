/**
 * Whether an upstream answers at all: `GET <url>/v2/`, which every registry serves (usually with a
 * 401) and Docker Hub does not count against pull limits. One probe per upstream at a time, and
 * its answer is kept a while, so however often the mirror page is viewed the upstream sees at most
 * one request per `keepMs`.
 */

export interface Reachability {
  at: Date;
  /** The HTTP status, when it answered. */
  status?: number;
  ms: number;
  /** Why it did not answer (timeout, refused, name not found). */
  error?: string;
}

const timeoutMs = 3000;
const keepMs = 30_000;

export class Prober {
  readonly #seen = new Map<string, { at: number; result: Promise<Reachability> }>();

  probe(url: string): Promise<Reachability> {
    const seen = this.#seen.get(url);
    if (seen && Date.now() - seen.at < keepMs) return seen.result;
    const result = ping(url);
    this.#seen.set(url, { at: Date.now(), result });
    return result;
  }
}

async function ping(base: string): Promise<Reachability> {
  const started = performance.now();
  const at = new Date();
  const ms = (): number => Math.round(performance.now() - started);
  try {
    const res = await fetch(`${base}/v2/`, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { 'User-Agent': 'berth-ui-probe' } });
    await res.body?.cancel().catch(() => undefined);
    return { at, status: res.status, ms: ms() };
  } catch (e) {
    const name = e instanceof Error ? e.name : '';
    return { at, ms: ms(), error: name === 'TimeoutError' || name === 'AbortError' ? `no answer in ${timeoutMs / 1000} s` : 'could not connect' };
  }
}
