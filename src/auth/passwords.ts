/**
 * bcrypt off the event loop. Every password check runs on one background thread (node:worker_threads,
 * which Node, Bun and Deno all have), so a flood of logins costs login latency, never the latency of
 * pulls. Checks wait in one bounded queue; when it is full the login is shed ('busy', answered 429)
 * rather than queued without end. Without a thread (a bundle that left the worker file out) the
 * checks run here, one at a time, behind the same queue.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../observability/log.ts';
import { bcryptThreadMark, runBcryptJob, type BcryptAnswer, type BcryptJob } from './bcrypt-worker.ts';

export type CheckResult = boolean | 'busy';

/** The longest a check should wait for the thread (by the recent time per check); beyond, a login is shed. */
const maxWaitMs = 5000;
/** A bound until the time per check is known. */
const maxWaiting = 32;
/** The cost `berth htpasswd` writes, for an unknown user when no user's hash says otherwise. */
const defaultCost = 12;

type Job = BcryptJob extends infer J ? (J extends { id: number } ? Omit<J, 'id'> : never) : never;

interface Pending {
  job: Job;
  resolve: (answer: BcryptAnswer) => void;
}

// The worker's own file, beside this one: .ts where the runtime runs the sources (Bun, Deno), .js in dist/.
const workerUrl = new URL(`./bcrypt-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export class PasswordChecker {
  readonly #logger: Logger;
  readonly #queue: Pending[] = [];
  #worker: Worker | undefined;
  /** The job on the thread (one at a time: the thread is busy with it, more would only queue there). */
  #running: { id: number; job: BcryptJob; resolve: (answer: BcryptAnswer) => void } | undefined;
  /** Whether the current thread ever answered: one that fails before it does cannot start here. */
  #answered = false;
  #ids = 0;
  #noThread = false;
  /** Recent time per job, ms (a moving average), to bound the wait rather than the count. */
  #jobMs = 0;
  #startedAt = 0;
  /** Hashes of nothing, per cost, that unknown users are compared against. */
  readonly #dummies = new Map<number, Promise<string>>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Whether `password` matches `hash`. With no hash (an unknown user) it is compared against a
   * dummy of `unknownCost`, so a wrong name costs what a wrong password costs, and is false.
   */
  async check(password: string, hash: string | undefined, unknownCost = defaultCost): Promise<CheckResult> {
    if (this.#queue.length >= maxWaiting || this.#queue.length * this.#jobMs > maxWaitMs) return 'busy';
    const against = hash ?? (await this.#dummy(unknownCost));
    const answer = await this.#submit({ op: 'compare', password, hash: against });
    if ('error' in answer) throw new Error(`password check failed: ${answer.error}`);
    return answer.ok && hash !== undefined;
  }

  /** Makes the dummy hash of `cost` ahead of the first unknown user, whose check would otherwise cost twice. */
  prepare(cost = defaultCost): void {
    this.#dummy(cost).catch(() => undefined);
  }

  /** Stops the thread; checks under way or waiting fail. A later check starts a new thread. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    const closed = { error: 'password checks closed' };
    for (const pending of this.#queue.splice(0)) pending.resolve({ id: 0, ...closed });
    const running = this.#running;
    if (running) this.#finish({ id: running.id, ...closed });
    await worker?.terminate();
  }

  #dummy(cost: number): Promise<string> {
    let dummy = this.#dummies.get(cost);
    if (!dummy) {
      dummy = this.#submit({ op: 'hash', password: '', cost }).then((a) => {
        if ('error' in a || a.hash === undefined) {
          this.#dummies.delete(cost);
          throw new Error(`cannot make a bcrypt hash of cost ${cost}`);
        }
        return a.hash;
      });
      this.#dummies.set(cost, dummy);
    }
    return dummy;
  }

  #submit(job: Job): Promise<BcryptAnswer> {
    return new Promise((resolve) => {
      this.#queue.push({ job, resolve });
      this.#next();
    });
  }

  #next(): void {
    if (this.#running) return;
    const pending = this.#queue.shift();
    if (!pending) return;
    const id = ++this.#ids;
    const job = { ...pending.job, id } as BcryptJob;
    this.#startedAt = performance.now();
    this.#running = { id, job, resolve: pending.resolve };
    this.#run(job);
  }

  #run(job: BcryptJob): void {
    const worker = this.#thread();
    // Without a thread: here, one at a time, yielding between checks so requests get a turn.
    if (worker) worker.postMessage(job);
    else setTimeout(() => this.#finish(runBcryptJob(job)), 0);
  }

  #finish(answer: BcryptAnswer): void {
    const running = this.#running;
    if (!running || running.id !== answer.id) return;
    this.#running = undefined;
    const took = performance.now() - this.#startedAt;
    this.#jobMs = this.#jobMs === 0 ? took : 0.8 * this.#jobMs + 0.2 * took;
    running.resolve(answer);
    this.#next();
  }

  #thread(): Worker | undefined {
    if (this.#worker || this.#noThread) return this.#worker;
    try {
      const worker = new Worker(workerUrl, { workerData: bcryptThreadMark });
      this.#answered = false;
      worker.on('message', (answer: BcryptAnswer) => {
        this.#answered = true;
        this.#finish(answer);
      });
      worker.on('error', (e) => this.#lost(worker, e));
      worker.on('exit', () => this.#lost(worker, new Error('bcrypt thread exited')));
      // Never keeps the process alive by itself (after the listeners: adding one refs it again).
      worker.unref();
      this.#worker = worker;
      return worker;
    } catch (e) {
      this.#withoutThread(e);
      return undefined;
    }
  }

  #withoutThread(e: unknown): void {
    this.#noThread = true;
    this.#logger.warn('no bcrypt thread: password checks run on the main thread', { error: e instanceof Error ? e.message : String(e) });
  }

  /**
   * The thread died (or was closed): the job it had fails, and the next one starts a new thread.
   * A thread that could not even start (its file missing from a bundle) is not tried again: the
   * job runs here instead.
   */
  #lost(worker: Worker, e: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    const running = this.#running;
    if (!this.#answered) {
      this.#withoutThread(e);
      if (running) this.#run(running.job);
      return;
    }
    if (running) this.#finish({ id: running.id, error: e.message });
  }
}
