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
/**
 * An error that knows what its log line should say: an expected failure (storage down, say) whose
 * message is the whole story, so a stack per request would be noise (src/storage/errors.ts).
 */
interface SelfDescribing {
  logFields(): LogFields;
}

const describesItself = (e: unknown): e is SelfDescribing =>
  typeof e === 'object' && e !== null && typeof (e as Partial<SelfDescribing>).logFields === 'function';

/**
 * An error as log fields: what it says of itself, else its message, its code, and the messages of
 * its causes. Only an error without a code gets its stack: a coded one (an OciError, a system
 * error) is a condition berth names, logged once per request as one line; an uncoded one is a
 * bug, and the stack finds it.
 */
export function errorFields(e: unknown): LogFields {
  if (describesItself(e)) return e.logFields();
  if (!(e instanceof Error)) return { error: String(e) };
  const code = (e as { code?: unknown }).code;
  const fields: LogFields = { error: e.message };
  if (typeof code === 'string') fields.code = code;
  const causes: string[] = [];
  for (let at = e.cause, depth = 0; at !== undefined && depth < 5; at = at instanceof Error ? at.cause : undefined, depth++) {
    causes.push(at instanceof Error ? at.message || String((at as { code?: unknown }).code ?? at.name) : String(at));
  }
  if (causes.length > 0) fields.cause = causes.join(': ');
  if (typeof code !== 'string') fields.stack = e.stack;
  return fields;
}
