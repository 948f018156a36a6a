import process from 'node:process';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** JSON lines on stderr, one object per event. */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const at = (lvl: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: LogFields) => {
    if (order[lvl] < order[level]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * An error that knows what its log line should say: an expected failure (storage down, say) whose
 * message is the whole story, so a stack per request would be noise (src/storage/errors.ts).
 */
interface SelfDescribing {
  logFields(): LogFields;
}

const describesItself = (e: unknown): e is SelfDescribing =>
  typeof e === 'object' && e !== null && typeof (e as Partial<SelfDescribing>).logFields === 'function';

export const errorFields = (e: unknown): LogFields =>
  describesItself(e) ? e.logFields() : e instanceof Error ? { error: e.message, stack: e.stack } : { error: String(e) };
