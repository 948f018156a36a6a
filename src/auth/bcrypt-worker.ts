/**
 * The bcrypt thread (src/auth/passwords.ts): comparisons and hashes here keep the event loop
 * serving while logins are checked. bcryptjs computes in ~100 ms slices; on the main thread each
 * slice stalls every request in flight.
 */
import bcrypt from 'bcryptjs';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

export type BcryptJob = { id: number; op: 'compare'; password: string; hash: string } | { id: number; op: 'hash'; password: string; cost: number };
export type BcryptAnswer = { id: number; ok: boolean; hash?: string } | { id: number; error: string };

/** One job, done synchronously: this thread has nothing else to do. */
export function runBcryptJob(job: BcryptJob): BcryptAnswer {
  try {
    if (job.op === 'compare') return { id: job.id, ok: bcrypt.compareSync(job.password, job.hash) };
    return { id: job.id, ok: true, hash: bcrypt.hashSync(job.password, job.cost) };
  } catch (e) {
    return { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Passed as `workerData` to the threads berth starts, so this module imported elsewhere stays inert. */
export const bcryptThreadMark = 'berth-bcrypt';

/**
 * The lowest scheduling priority for this thread alone (Linux: a thread's id is a pid to
 * setpriority), so that on a busy core the thread serving requests always goes first; a thread
 * sharing the core at equal priority still added tens of ms to pulls during a login flood (bench/).
 */
function yieldToRequests(): void {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').at(-1)), 19);
  } catch {
    // Not Linux, or not allowed: the thread still keeps bcrypt off the event loop.
  }
}

if (workerData === bcryptThreadMark) {
  yieldToRequests();
  parentPort?.on('message', (job: BcryptJob) => parentPort?.postMessage(runBcryptJob(job)));
}
