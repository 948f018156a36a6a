import { setFlagsFromString } from 'node:v8';

/**
 * V8 sizes its young generation by how much of it survives a scavenge, doubling it (up to 16 MiB,
 * both halves committed) while most does. Start-up is all survivors: every module's code,
 * functions and configuration schemas live as long as the process. Left alone, loading berth
 * grows the young generation to 8 MiB of resident pages that an idle registry never uses again
 * (issue 15: ~5 MiB of idle RSS). So it is held at its initial size while berth loads, and allowed
 * to grow again once the server listens, where request garbage is what it is sized for (the
 * throughput of a serving process is unchanged; bench/README.md, "Idle memory on Node").
 *
 * The growth factor is read by V8 each time it considers growing, so changing it at run time
 * takes effect (unlike `--max-semi-space-size`, fixed when the heap is made). An operator's own
 * `--semi-space-growth-factor` (command line or NODE_OPTIONS) is left as given.
 */
const growthFactor = 'semi-space-growth-factor';
const operatorChose = (): boolean => [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes(growthFactor));

/** Called first thing, before berth's modules are loaded. */
export function holdYoungGeneration(): void {
  if (!operatorChose()) setFlagsFromString(`--${growthFactor}=1`);
}

/** Called once the server listens: V8's default again. */
export function releaseYoungGeneration(): void {
  if (!operatorChose()) setFlagsFromString(`--${growthFactor}=2`);
}
