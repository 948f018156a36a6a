/**
 * Docker token scopes (`repository:<name>:pull,push`, `registry:catalog:*`) and the scopes each
 * request of the distribution API needs. Pure: no HTTP objects, no configuration.
 */
import { matchEndpoint } from '../oci/endpoints.ts';
import { validateName } from '../oci/names.ts';

export type RepositoryAction = 'pull' | 'push' | 'delete';
export const repositoryActions: readonly RepositoryAction[] = ['pull', 'push', 'delete'];

/** One resource and the actions on it, as in a challenge's `scope` and a token's `access` claim. */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export const catalogScope: Scope = { type: 'registry', name: 'catalog', actions: ['*'] };

export const formatScope = (s: Scope): string => `${s.type}:${s.name}:${s.actions.join(',')}`;

/**
 * Parses `scope` values; each may hold several scopes separated by spaces. The name may itself
 * contain colons (a host with a port), so the type ends at the first colon and the actions start
 * after the last. A type may carry a class, `repository(plugin)`, which berth ignores. Malformed
 * entries are dropped: a token request is answered with what can be granted, never an error.
 */
export function parseScopes(values: readonly string[]): Scope[] {
  const out: Scope[] = [];
  for (const item of values.flatMap((v) => v.split(' '))) {
    const first = item.indexOf(':');
    const last = item.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = item.slice(0, first).replace(/\(.*\)$/, '');
    const name = item.slice(first + 1, last);
    const actions = item.slice(last + 1).split(',').filter((a) => a !== '');
    if (name === '' || actions.length === 0) continue;
    out.push({ type, name, actions: [...new Set(actions)] });
  }
  return mergeScopes(out);
}

/** One entry per resource, actions united, in first-seen order. */
export function mergeScopes(scopes: readonly Scope[]): Scope[] {
  const byKey = new Map<string, Scope>();
  for (const s of scopes) {
    const key = `${s.type}:${s.name}`;
    const known = byKey.get(key);
    if (known) known.actions = [...new Set([...known.actions, ...s.actions])];
    else byKey.set(key, { type: s.type, name: s.name, actions: [...s.actions] });
  }
  return [...byKey.values()];
}

/** What a request needs: just a valid identity (`/v2/`, unknown endpoints), or these scopes. */
export type Requirement = { kind: 'authenticated' } | { kind: 'scopes'; scopes: Scope[] };

const authenticated: Requirement = { kind: 'authenticated' };
const repository = (name: string, ...actions: RepositoryAction[]): Scope => ({ type: 'repository', name, actions });

/**
 * The scopes a request needs, from its method and its path (as the router sees it). Reads need
 * `pull`; everything that writes needs `pull,push`, as distribution asks (an upload session's
 * status and cancel too: they belong to pushing and delete no content); deletes of manifests and
 * blobs need `delete`. Throws NAME_INVALID for a repository name the handler would refuse anyway.
 */
export function requiredAccess(method: string, path: string): Requirement {
  // An endpoint without a HEAD of its own answers HEAD with its GET handler, so HEAD reads like GET.
  const read = method === 'GET' || method === 'HEAD';
  const match = matchEndpoint(path);
  if (match?.endpoint === 'catalog') return read ? { kind: 'scopes', scopes: [catalogScope] } : authenticated;
  if (match?.params.name === undefined) return authenticated;
  const name = validateName(match.params.name);
  switch (match.endpoint) {
    case 'tags':
    case 'referrers':
      return read ? { kind: 'scopes', scopes: [repository(name, 'pull')] } : authenticated;
    case 'manifest':
    case 'blob':
      if (read) return { kind: 'scopes', scopes: [repository(name, 'pull')] };
      if (method === 'DELETE') return { kind: 'scopes', scopes: [repository(name, 'delete')] };
      if (method === 'PUT' && match.endpoint === 'manifest') return { kind: 'scopes', scopes: [repository(name, 'pull', 'push')] };
      return authenticated;
    case 'uploads': {
      if (method !== 'POST') return authenticated;
      // A mount needs nothing on `from`: the handler links only from a repository the caller may
      // pull and otherwise starts a fresh upload (containerd asks to mount from repositories its
      // user cannot pull, and a 401 there would fail the push).
      return { kind: 'scopes', scopes: [repository(name, 'pull', 'push')] };
    }
    case 'upload':
      return read || ['PATCH', 'PUT', 'DELETE'].includes(method)
        ? { kind: 'scopes', scopes: [repository(name, 'pull', 'push')] }
        : authenticated;
  }
  return authenticated;
}

/** Whether `granted` includes every action of `required`; `*` grants every action of its resource. */
export function covers(granted: readonly Scope[], required: readonly Scope[]): boolean {
  return missingScopes(granted, required).length === 0;
}

/** The parts of `required` that `granted` lacks. */
export function missingScopes(granted: readonly Scope[], required: readonly Scope[]): Scope[] {
  const missing: Scope[] = [];
  for (const need of required) {
    const have = new Set(granted.filter((g) => g.type === need.type && g.name === need.name).flatMap((g) => g.actions));
    const lacking = have.has('*') ? [] : need.actions.filter((a) => !have.has(a));
    if (lacking.length > 0) missing.push({ ...need, actions: lacking });
  }
  return missing;
}
