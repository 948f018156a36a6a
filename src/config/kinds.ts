import { z } from 'zod';

/** What a setting holds beyond its JSON type, as the primitives of src/config mark it (`.meta({ kind })`). */
export type Kind = 'duration' | 'size' | 'path' | 'path-or-url';

interface Node {
  kind?: string;
  properties?: Record<string, Node>;
  additionalProperties?: Node | boolean;
  items?: Node;
  anyOf?: Node[];
  oneOf?: Node[];
}

const trees = new WeakMap<z.ZodType, Node>();

/** The schema as JSON Schema (its input side), where each marked primitive carries its `kind`. */
function treeOf(schema: z.ZodType): Node {
  let tree = trees.get(schema);
  if (!tree) {
    tree = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Node;
    trees.set(schema, tree);
  }
  return tree;
}

function child(node: Node | undefined, key: string): Node | undefined {
  if (!node) return undefined;
  const direct = node.properties?.[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  return direct ?? (node.anyOf ?? node.oneOf)?.map((n) => child(n, key)).find((n) => n !== undefined);
}

function items(node: Node | undefined): Node | undefined {
  return node?.items ?? (node?.anyOf ?? node?.oneOf)?.map((n) => n.items).find((n) => n !== undefined);
}

function walk(node: Node | undefined, value: unknown, fn: (kind: Kind, value: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => walk(items(node), v, fn));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(child(node, k), v, fn)]));
  }
  return node?.kind === undefined ? value : fn(node.kind as Kind, value);
}

/**
 * A copy of `value` (a configuration tree, as written or as parsed) in which every scalar that
 * `schema` marks with a kind is replaced by `fn(kind, scalar)`. Keys the schema does not know are
 * copied unchanged.
 */
export function mapKinds(schema: z.ZodType, value: unknown, fn: (kind: Kind, value: unknown) => unknown): unknown {
  return walk(treeOf(schema), value, fn);
}
