/** Timers take a signed 32-bit delay; a longer one (gc.interval: 30d) would fire at once, every time. */
const longestTimer = 2 ** 31 - 1;

/** One kind of maintenance pass and how often it runs. */
export interface Task {
  /** For logs: `${name} failed`. */
  name: string;
  everyMs: number;
  /** Also run once as soon as the scheduler starts. */
  atStart?: boolean;
  /** One pass; it stops early (throwing) once `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * Runs maintenance tasks on their intervals, one pass at a time: a task that comes due while
 * another runs waits its turn, and one already waiting or running is not queued again. Passes
 * never overlap, so two sweeps never delete beside each other in one process.
 *
 * Its timers keep the process alive until `close()`: whoever starts a registry stops it.
 */
export class Scheduler {
  readonly #tasks: readonly Task[];
  readonly #failed: (task: Task, e: unknown) => void;
  readonly #timers: Array<ReturnType<typeof setInterval>> = [];
  readonly #queue: Task[] = [];
  readonly #abort = new AbortController();
  #running: { task: Task; done: Promise<void> } | undefined;
  #closed = false;

  constructor(tasks: readonly Task[], failed: (task: Task, e: unknown) => void) {
    this.#tasks = tasks;
    this.#failed = failed;
  }

  start(): void {
    if (this.#closed) return;
    for (const task of this.#tasks) {
      this.#timers.push(setInterval(() => this.#due(task), Math.min(task.everyMs, longestTimer)));
      if (task.atStart) this.#due(task);
    }
  }

  /** Stops the timers, drops what waits, aborts the running pass and resolves once it has stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    this.#queue.length = 0;
    this.#abort.abort();
    await this.#running?.done;
  }

  #due(task: Task): void {
    if (this.#closed || this.#running?.task === task || this.#queue.includes(task)) return;
    this.#queue.push(task);
    this.#next();
  }

  #next(): void {
    if (this.#running || this.#closed) return;
    const task = this.#queue.shift();
    if (!task) return;
    const signal = this.#abort.signal;
    const done = task
      .run(signal)
      .catch((e: unknown) => {
        if (!signal.aborted) this.#failed(task, e);
      })
      .finally(() => {
        this.#running = undefined;
        this.#next();
      });
    this.#running = { task, done };
  }
}
