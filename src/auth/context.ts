/**
 * What the auth middleware tells the handlers behind it. Set only when access control is on, so
 * a handler that finds it knows auth is on.
 */
export interface RequestAccess {
  /** Who is asking (user name or token subject); undefined for anonymous callers. Logged. */
  user?: string | undefined;
  /** Whether the caller may pull repository `name` (the catalog lists only those). */
  mayPull(name: string): boolean;
}

declare module 'hono' {
  interface ContextVariableMap {
    access?: RequestAccess;
  }
}
