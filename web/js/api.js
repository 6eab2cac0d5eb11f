// The storefront API from the browser. The session is the HttpOnly cookie the API sets at
// sign-in (a reopened dashboard is still signed in; no token is ever in script reach or in a
// URL); requests that change something echo the sf_csrf cookie in X-CSRF-Token.

/** Whether a session cookie is likely there: the readable sf_csrf cookie is set and cleared with it. */
export function hasSession() {
  return csrfToken() !== '';
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function csrfToken() {
  const match = document.cookie.split('; ').find((part) => part.startsWith('sf_csrf='));
  return match ? decodeURIComponent(match.slice('sf_csrf='.length)) : '';
}

/** A random id for Idempotency-Key headers and usage keys (crypto.randomUUID needs a secure context). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function request(method, path, { body, headers = {} } = {}) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } };
  if (!SAFE_METHODS.has(method)) init.headers['x-csrf-token'] = csrfToken();
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'NETWORK', 'The store cannot be reached. Check your connection.');
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? `HTTP_${response.status}`,
      error.message ?? `Request failed (${response.status})`,
    );
  }
  return data;
}

/** The API for the signed-in user (the session cookie goes with every request). */
export function client() {
  const call = (method, path, options = {}) => request(method, path, options);
  return {
    /** A page of the catalogue; `query` is a URLSearchParams of limit, cursor, q, available. */
    products: (query) => call('GET', `/v1/products?${query}`),
    product: (id) => call('GET', `/v1/products/${id}`),
    cart: () => call('GET', '/v1/cart'),
    setCartItem: (productId, quantity) => call('PUT', `/v1/cart/items/${productId}`, { body: { quantity } }),
    /** A page of the user's orders, newest first; `query` is a URLSearchParams of limit and cursor. */
    orders: (query) => call('GET', `/v1/orders?${query}`),
    /** One order with its refunds and timeline (an admin reads any customer's). */
    order: (id) => call('GET', `/v1/orders/${id}`),
    /** Every customer's orders (admins); `query` adds status, customerId or customerEmail, limit and cursor. */
    allOrders: (query) => call('GET', `/v1/orders?scope=all&${query}`),
    /** An admin's refund: the same key answers the same refund, never a second one. */
    refund: (orderId, body, idempotencyKey) =>
      call('POST', `/v1/orders/${orderId}/refunds`, { body, headers: { 'idempotency-key': idempotencyKey } }),
    placeOrder: (idempotencyKey) => call('POST', '/v1/orders', { headers: { 'idempotency-key': idempotencyKey } }),
    pay: (orderId, paymentMethod) => call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentMethod } }),
    cancel: (orderId) => call('POST', `/v1/orders/${orderId}/cancel`, { body: {} }),
    quota: () => call('GET', '/v1/quota'),
    recordUsage: (resource, quantity, idempotencyKey) =>
      call('POST', '/v1/usage', { body: { resource, quantity, idempotencyKey } }),
    notifications: (query = '') => call('GET', `/v1/notifications${query}`),
    markRead: (id) => call('POST', `/v1/notifications/${id}/read`),
  };
}

export const auth = {
  me: () => request('GET', '/v1/auth/me'),
  signIn: (email, password) => request('POST', '/v1/auth/signin', { body: { email, password } }),
  signUp: (email, password) => request('POST', '/v1/auth/signup', { body: { email, password } }),
  signOut: () => request('POST', '/v1/auth/signout'),
  signOutEverywhere: () => request('POST', '/v1/auth/signout-everywhere'),
  changePassword: (currentPassword, newPassword) =>
    request('POST', '/v1/auth/password', { body: { currentPassword, newPassword } }),
  requestPasswordReset: (email) => request('POST', '/v1/auth/password-reset', { body: { email } }),
  resetPassword: (token, newPassword) =>
    request('POST', '/v1/auth/password-reset/confirm', { body: { token, newPassword } }),
  verifyEmail: (token) => request('POST', '/v1/auth/verify-email', { body: { token } }),
  /** The seeded demo accounts, offered only by the local stack (404 elsewhere). */
  demoAccounts: () => request('GET', '/v1/auth/demo-accounts'),
};
