import { z } from 'zod';

interface JsonSchema {
  kind?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  format?: string;
  pattern?: string;
}

const kindNames: Record<string, string> = { duration: 'duration', size: 'size', path: 'path', 'path-or-url': 'path or URL' };

function typeOf(s: JsonSchema): string {
  if (s.kind !== undefined && kindNames[s.kind]) return kindNames[s.kind]!;
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return [...new Set(alternatives.map(typeOf))].join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object' && !s.properties) return 'map';
  if (Array.isArray(s.type)) return s.type.join(' or ');
  return s.format ?? s.type ?? 'any';
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function rows(s: JsonSchema, path: string, out: string[][]): void {
  const objectLike = s.properties ?? (s.type === 'array' && s.items?.properties ? s.items.properties : undefined);
  if (objectLike && path !== '') {
    out.push([`**\`${path}\`**`, s.type === 'array' ? 'list' : 'section', '', cell(s.description ?? '')]);
  }
  if (objectLike) {
    const prefix = path === '' ? '' : s.type === 'array' ? `${path}[].` : `${path}.`;
    for (const [key, child] of Object.entries(objectLike)) rows(child, `${prefix}${key}`, out);
    return;
  }
  const fallback = (s.anyOf ?? s.oneOf)?.find((a) => a.description);
  const def = s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``;
  out.push([`\`${path}\``, cell(typeOf(s)), cell(def), cell(s.description ?? fallback?.description ?? '')]);
}

/** The configuration reference (docs/configuration.md), generated from the schema itself. */
export function configReference(configSchema: z.ZodType): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const table: string[][] = [];
  rows(schema, '', table);
  const lines = table.map((r) => `| ${r.join(' | ')} |`);
  return [
    '# Configuration reference',
    '',
    'Generated from the schema (`src/schema.ts`, composed of each part\'s own `schema.ts`) by `npm run docs`; a test fails when this file and the schema disagree.',
    '',
    'Every key can come from the YAML file (`--config FILE`, `BERTH_CONFIG`), from the environment',
    '(`BERTH_` + the key path, `__` between levels, `_` between words: `BERTH_MANIFESTS__MAX_SIZE=8MiB`;',
    '`BERTH_DATA` is short for `storage.fs.root`) or, for `listen` and `storage.fs.root`, from the flags',
    '`--listen` and `--data`. Flags win over the environment, which wins over the file. Sizes are byte',
    'counts or strings such as `"8MiB"`; durations are seconds or strings such as `"500ms"`, `"30m"`, `"24h"`, `"7d"`.',
    'A relative path in the file is read against the file\'s folder; from a flag or the environment, against',
    'the working directory.',
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
    ...lines,
    '',
  ].join('\n');
}
