/**
 * Who may do what: users and groups from config, rules mapping them (or anonymous callers) to
 * repository patterns and actions. Anything no rule allows is denied.
 */
import { globToRegExp } from '../config/patterns.ts';
import { isValidName } from './names.ts';
import type { RuleConfig } from './schema.ts';
import { catalogScope, mergeScopes, repositoryActions, type RepositoryAction, type Scope } from './scope.ts';

/** The caller: a user name, or none for anonymous. */
export interface Principal {
  user?: string;
  groups: readonly string[];
}

export const anonymous: Principal = { groups: [] };

export { globToRegExp } from '../config/patterns.ts';

interface CompiledRule {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  anonymous: boolean;
  authenticated: boolean;
  repositories: RegExp[];
  actions: ReadonlySet<RepositoryAction>;
  catalog: boolean;
}

export class Rules {
  readonly #rules: CompiledRule[];
  readonly #groupsOf = new Map<string, string[]>();

  constructor(rules: readonly RuleConfig[], groups: Readonly<Record<string, readonly string[]>>) {
    for (const [group, members] of Object.entries(groups)) {
      for (const user of members) this.#groupsOf.set(user, [...(this.#groupsOf.get(user) ?? []), group]);
    }
    this.#rules = rules.map((r) => {
      const actions = new Set<RepositoryAction>(r.actions);
      // A client pushing also reads (it checks which blobs exist), so push brings pull along.
      if (actions.has('push')) actions.add('pull');
      return {
        users: new Set(r.users),
        groups: new Set(r.groups),
        anonymous: r.anonymous,
        authenticated: r.authenticated,
        repositories: r.repositories.map(globToRegExp),
        actions,
        catalog: r.catalog,
      };
    });
  }

  /** The principal for a signed-in user (with its groups), or anonymous. */
  principal(user?: string): Principal {
    return user === undefined ? anonymous : { user, groups: this.#groupsOf.get(user) ?? [] };
  }

  #applies(rule: CompiledRule, p: Principal): boolean {
    if (rule.anonymous) return true;
    if (p.user === undefined) return false;
    return rule.authenticated || rule.users.has(p.user) || p.groups.some((g) => rule.groups.has(g));
  }

  /** The actions `p` may take on repository `name`. */
  actions(p: Principal, name: string): Set<RepositoryAction> {
    const out = new Set<RepositoryAction>();
    for (const rule of this.#rules) {
      if (!this.#applies(rule, p) || !rule.repositories.some((re) => re.test(name))) continue;
      for (const a of rule.actions) out.add(a);
    }
    return out;
  }

  may(p: Principal, name: string, action: RepositoryAction): boolean {
    return this.actions(p, name).has(action);
  }

  mayListCatalog(p: Principal): boolean {
    return this.#rules.some((rule) => rule.catalog && this.#applies(rule, p));
  }

  /**
   * What to grant for a token request: the intersection of what was asked and what is allowed.
   * Unknown types, invalid names and denied actions are left out, never an error; `*` on a
   * repository asks for every action.
   */
  grant(p: Principal, requested: readonly Scope[]): Scope[] {
    const out: Scope[] = [];
    for (const s of requested) {
      if (s.type === 'registry' && s.name === 'catalog' && s.actions.includes('*')) {
        if (this.mayListCatalog(p)) out.push(catalogScope);
      } else if (s.type === 'repository' && isValidName(s.name)) {
        const wanted = s.actions.includes('*') ? repositoryActions : s.actions;
        const allowed = this.actions(p, s.name);
        const actions = repositoryActions.filter((a) => wanted.includes(a) && allowed.has(a));
        if (actions.length > 0) out.push({ type: 'repository', name: s.name, actions });
      }
    }
    return mergeScopes(out);
  }

  /** Whether every scope is allowed to `p` (basic mode, where there is no token to carry them). */
  allows(p: Principal, required: readonly Scope[]): boolean {
    return required.every((s) => {
      if (s.type === 'registry' && s.name === 'catalog') return this.mayListCatalog(p);
      const allowed = this.actions(p, s.name);
      return s.type === 'repository' && s.actions.every((a) => allowed.has(a as RepositoryAction));
    });
  }
}
