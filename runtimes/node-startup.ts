import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings held while `berth serve` loads and set back to V8's defaults once the server
 * listens: start-up is a few hundred milliseconds of code that runs once, and V8's heuristics,
 * tuned for code that keeps running, leave memory behind that an idle registry never uses again
 * (issue 15; bench/README.md, "Idle memory and start-up on Node"). Each is read by V8 when it
 * decides, so changing it at run time takes effect; one an operator set (command line or
 * NODE_OPTIONS) is left as given.
 */
interface Held {
  /** Options (without `--` and `no-`) that, if the operator passed one, mean this setting is theirs. */
  operatorNames: string[];
  during: string;
  after: string;
}

const held: Held[] = [
  {
    // V8 sizes its young generation by how much of it survives a scavenge, doubling it (up to
    // 16 MiB, both halves committed) while most does. Start-up is all survivors: every module's
    // code, functions and configuration schemas live as long as the process, so left alone the
    // young generation grows to 8 MiB of resident pages that request garbage never needs.
    // (`--max-semi-space-size` would be fixed for the process: it is read when the heap is made.)
    operatorNames: ['semi-space-growth-factor', 'max-semi-space-size', 'min-semi-space-size'],
    during: '--semi-space-growth-factor=1',
    after: '--semi-space-growth-factor=2',
  },
  {
    // A few functions run often enough while loading (path normalisation in module resolution,
    // zod's schema constructors) for V8 to optimise them, and the first optimisation brings in
    // TurboFan: ~3 MiB of resident compiler code and zones, for functions start-up never calls
    // again. Requests are optimised as before once the server listens: a function that grew hot
    // while TurboFan was off is optimised on its next tick. (`--max-opt=0` would not do: set back
    // at run time, V8 never optimises again.)
    operatorNames: ['turbofan', 'opt', 'max-opt', 'jitless', 'lite-mode'],
    during: '--no-turbofan',
    after: '--turbofan',
  },
  {
    // The same for Sparkplug, the baseline compiler, which compiles what start-up runs a few
    // times: ~1 MiB of code and compiler pages. Set back, it compiles warm functions as before.
    operatorNames: ['sparkplug', 'max-opt', 'jitless', 'lite-mode'],
    during: '--no-sparkplug',
    after: '--sparkplug',
  },
];

/** The names of the options given to this process: `--no-turbofan` and `--max_opt=2` give `turbofan` and `max-opt`. */
const operatorOptions = (): Set<string> =>
  new Set(
    [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
      .filter((a) => a.startsWith('--'))
      .map((a) => a.slice(2).split('=')[0]!.replaceAll('_', '-').replace(/^no-/, '')),
  );
const ours = (): Held[] => {
  const given = operatorOptions();
  return held.filter((h) => !h.operatorNames.some((name) => given.has(name)));
};

/** Called first thing, before berth's modules are loaded. */
export function holdDuringStartup(): void {
  for (const h of ours()) setFlagsFromString(h.during);
}

/** Called once the server listens: V8's defaults again. */
export function releaseAfterStartup(): void {
  for (const h of ours()) setFlagsFromString(h.after);
}
