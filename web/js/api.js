// The storefront API from the browser: the signed-in session (kept in localStorage, so a
// reopened dashboard is still signed in) and JSON requests that fail with the API's code.

const SESSION_KEY = 'storefront.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function loadSession() {
  try {
    const session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
    return session && typeof session.token === 'string' && typeof session.userId === 'string' ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** A random id for Idempotency-Key headers and usage keys (crypto.randomUUID needs a secure context). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function request(method, path, { token, body, headers = {} } = {}) {
  const init = { method, headers: { accept: 'application/json', ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
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
    throw new ApiError(response.status, error.code ?? `HTTP_${response.status}`, error.message ?? `Request failed (${response.status})`);
  }
  return data;
}

/** The API for one signed-in user. */
export function client(session) {
  const call = (method, path, options = {}) => request(method, path, { ...options, token: session.token });
  return {
    products: () => call('GET', '/v1/products'),
    cart: () => call('GET', '/v1/cart'),
    setCartItem: (productId, quantity) => call('PUT', `/v1/cart/items/${productId}`, { body: { quantity } }),
    orders: () => call('GET', '/v1/orders'),
    placeOrder: (idempotencyKey) => call('POST', '/v1/orders', { headers: { 'idempotency-key': idempotencyKey } }),
    pay: (orderId, paymentMethod) => call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentMethod } }),
    cancel: (orderId) => call('POST', `/v1/orders/${orderId}/cancel`, { body: {} }),
    quota: () => call('GET', '/v1/quota'),
    recordUsage: (resource, quantity, idempotencyKey) => call('POST', '/v1/usage', { body: { resource, quantity, idempotencyKey } }),
    notifications: (query = '') => call('GET', `/v1/notifications${query}`),
    markRead: (id) => call('POST', `/v1/notifications/${id}/read`),
  };
}

export function signIn(userId) {
  return request('POST', '/v1/auth/dev-token', { body: { userId } });
}
