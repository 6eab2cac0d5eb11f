/**
 * The API's operations as the OpenAPI document names them: one stable `operationId` (client
 * generators name their methods after it; renaming one breaks every generated client), a summary
 * and a description per route. Kept in one table so the API reads as a catalogue; the OpenAPI
 * plugin copies each entry onto its route, and a route's own schema text wins where it has one.
 */
export interface OperationDoc {
  operationId: string;
  summary: string;
  description: string;
}

/** Keyed by `METHOD /path` as Fastify registers it (`:param`, not `{param}`). */
export const OPERATIONS: Record<string, OperationDoc> = {
  'GET /healthz': {
    operationId: 'getHealth',
    summary: 'Liveness',
    description: 'Answers 200 while the process runs. It checks nothing else: use /readyz for a load balancer.',
  },
  'GET /readyz': {
    operationId: 'getReadiness',
    summary: 'Readiness',
    description: 'Whether the service databases and Temporal answer; 503 lists what is down.',
  },
  'POST /v1/auth/signup': {
    operationId: 'signUp',
    summary: 'Create an account and sign in',
    description:
      'Creates a user with the `user` role on the `free` plan and opens a session: the answer carries a bearer token and sets the HttpOnly session cookie (and the `sf_csrf` cookie the dashboard echoes in `X-CSRF-Token`). ' +
      'Emails compare case-insensitively. 400 for a malformed email, a password under 10 characters, or any other field (a role or plan cannot be chosen); 403 CSRF_REJECTED for a cross-site Origin; 409 EMAIL_TAKEN; 429 RATE_LIMITED.',
  },
  'POST /v1/auth/signin': {
    operationId: 'signIn',
    summary: 'Sign in with email and password',
    description:
      'Opens a session as sign-up does. 401 INVALID_CREDENTIALS for a wrong password and an unknown email alike (after the same work, so timing does not tell them apart); ' +
      '429 RATE_LIMITED after repeated failures for one account or from one address; 403 CSRF_REJECTED for a cross-site Origin.',
  },
  'POST /v1/auth/signout': {
    operationId: 'signOut',
    summary: 'Sign out: revoke the session',
    description:
      'Revokes the session of the cookie or bearer token: both are refused from then on. Clears the cookies. ' +
      'Cookie-authenticated calls need `X-CSRF-Token` (403 CSRF_REJECTED without it); 401 without a valid session.',
  },
  'GET /v1/auth/me': {
    operationId: 'getCurrentUser',
    summary: 'The signed-in user',
    description:
      'The user of the session: id, email, role and plan as the accounts service has them now. 401 without a valid session or token.',
  },
  'POST /v1/auth/dev-token': {
    operationId: 'createDevToken',
    summary: 'A dev token for any user id (local stack only)',
    description:
      'Exists only when ALLOW_DEV_TOKENS=true, which the production profile refuses. Signs a token for an ad-hoc user id with the role asked for, and optionally puts that user on a plan. ' +
      'An id that belongs to an account is refused with 409 ACCOUNT_EXISTS: a real account signs in, and its role and plan cannot be set this way. 400 for a malformed id, role or plan; 429 RATE_LIMITED.',
  },
  'GET /v1/auth/demo-accounts': {
    operationId: 'listDemoAccounts',
    summary: 'The seeded demo accounts (local stack only)',
    description:
      "Exists only when ALLOW_DEV_TOKENS=true: the demo accounts the local seed creates and their shared, documented password, for the dashboard's one-click demo sign-in.",
  },
  'GET /v1/products': {
    operationId: 'listProducts',
    summary: 'List the catalogue',
    description: 'Every product with its price and the units available to order now. Public: no sign-in needed.',
  },
  'POST /v1/products': {
    operationId: 'createProduct',
    summary: 'Add a product (admin)',
    description: 'Creates a product with its stock. The SKU is unique; a taken one gets 409 SKU_TAKEN.',
  },
  'GET /v1/products/:id': {
    operationId: 'getProduct',
    summary: 'Read one product',
    description:
      'The product with its price, available units and version (for an optimistic PATCH). Public: no sign-in needed.',
  },
  'PATCH /v1/products/:id': {
    operationId: 'updateProduct',
    summary: 'Edit a product (admin)',
    description:
      'Edits name and price with the version read; a stale version gets 409 VERSION_CONFLICT and changes nothing. Stock changes through POST /v1/products/{id}/stock.',
  },
  'POST /v1/products/:id/stock': {
    operationId: 'adjustProductStock',
    summary: 'Adjust the stock of a product (admin)',
    description:
      'Adds or, negative, takes away units by delta, atomically with reservations, so reserved units are never given back. Taking away more than is available gets 409 INSUFFICIENT_STOCK.',
  },
  'GET /v1/cart': {
    operationId: 'getCart',
    summary: "Read the user's cart",
    description: 'The items with their current prices and the total.',
  },
  'PUT /v1/cart/items/:productId': {
    operationId: 'setCartItem',
    summary: 'Set the quantity of one product in the cart',
    description: 'Sets, not adds: the same request twice leaves the same cart. Quantity 0 removes the item.',
  },
  'DELETE /v1/cart/items/:productId': {
    operationId: 'removeCartItem',
    summary: 'Remove one product from the cart',
    description: 'Idempotent: removing an item that is not there answers the cart as it is.',
  },
  'POST /v1/orders': {
    operationId: 'placeOrder',
    summary: 'Place an order',
    description: 'Starts the checkout saga and answers once the stock reservation is decided.',
  },
  'GET /v1/orders': {
    operationId: 'listOrders',
    summary: "List the user's orders",
    description: 'Newest first, each with its status, lines, total and payment.',
  },
  'GET /v1/orders/:id': {
    operationId: 'getOrder',
    summary: 'Read one order',
    description:
      "Status, lines, total, expiry, payment, failure reason and the saga's steps. Another user's order is 404.",
  },
  'POST /v1/orders/:id/payment': {
    operationId: 'payOrder',
    summary: 'Pay an order',
    description: 'Charges the order through Stripe; a second payment of the same order is refused, never charged.',
  },
  'POST /v1/orders/:id/cancel': {
    operationId: 'cancelOrder',
    summary: 'Cancel an order before it is paid',
    description: 'Releases the reserved stock and gives the order quota back. A paid order gets 409.',
  },
  'POST /v1/webhooks/stripe': {
    operationId: 'receiveStripeWebhook',
    summary: "Stripe's webhook",
    description: 'Verifies Stripe-Signature, stores each event once and tells the order it concerns.',
  },
  'POST /v1/usage': {
    operationId: 'recordUsage',
    summary: 'Record usage of a resource',
    description: 'Counts once per idempotency key; tells the user when 80 % or 100 % of the plan is crossed.',
  },
  'GET /v1/quota': {
    operationId: 'getQuota',
    summary: "Read the user's plan and usage",
    description: "The plan, the period and each resource's use and limit.",
  },
  'GET /v1/notifications': {
    operationId: 'listNotifications',
    summary: "List the user's notifications",
    description: 'Newest first; unread=true keeps only the unread ones.',
  },
  'POST /v1/notifications/:id/read': {
    operationId: 'markNotificationRead',
    summary: 'Mark a notification read',
    description: "Idempotent. Another user's notification is 404.",
  },
  'GET /v1/notifications/stream': {
    operationId: 'streamNotifications',
    summary: 'Live notifications (Server-Sent Events)',
    description: 'Notifications and order status changes as they happen; resumes from Last-Event-ID without gaps.',
  },
};

export function operationKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url}`;
}
