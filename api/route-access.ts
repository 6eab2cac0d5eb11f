/**
 * Who may call a route, declared once, by the hook that enforces it: `app.authenticate` (a
 * signed-in user) and `app.requireAdmin` (an admin) carry their access (api/plugins/auth.ts), and
 * a route that runs neither is public. The OpenAPI document derives each operation's security and
 * its authentication errors from the hooks the route runs (api/plugins/openapi.ts), so the
 * document cannot say a route is public while its code asks for a token, or the reverse.
 */
export type Access = 'public' | 'user' | 'admin';

const ACCESS = Symbol.for('storefront.routeAccess');

type Hook = { [ACCESS]?: Access } | undefined;

/** Marks a hook as the one that lets only `access` through. */
export function enforcesAccess<F extends (...args: never[]) => unknown>(access: Exclude<Access, 'public'>, hook: F): F {
  Object.defineProperty(hook, ACCESS, { value: access });
  return hook;
}

/** The hooks a route declares, as Fastify's route options hold them (one function or a list). */
export interface RouteHooks {
  onRequest?: unknown;
  preParsing?: unknown;
  preValidation?: unknown;
  preHandler?: unknown;
}

/** The access of a route: the strictest that any of its hooks enforces, public when none does. */
export function accessOf(route: RouteHooks): Access {
  const hooks = [route.onRequest, route.preParsing, route.preValidation, route.preHandler].flat() as Hook[];
  const declared: (Access | undefined)[] = hooks.map((hook) =>
    hook && typeof hook === 'function' ? hook[ACCESS] : undefined,
  );
  if (declared.includes('admin')) return 'admin';
  return declared.includes('user') ? 'user' : 'public';
}
