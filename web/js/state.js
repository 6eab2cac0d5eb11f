// What the dashboard knows of the signed-in customer, shared by the views (each loads and renders its own part).

export const state = {
  /** The signed-in user (id, email, role, plan) and the API and live stream opened for them (session.js). */
  session: null,
  api: null,
  live: null,
  /** The plan's usage (usage.js). */
  quota: null,
  /**
   * The catalogue's pages shown so far for the search typed (catalogue.js) and the cart (cart.js): each renders with
   * the other's numbers. Every product seen, by id, names the cart's lines whatever page they are on.
   */
  products: [],
  productsById: new Map(),
  /** The cursor of the next catalogue page, of the next page of older orders (null: none). */
  productsCursor: null,
  ordersCursor: null,
  cart: { items: [], totalCents: 0, currency: 'usd' },
  /** Orders by id, and the ids of those with a payment or cancellation under way (orders.js). */
  orders: new Map(),
  busy: new Set(),
  /** Notifications of kind NOTIFICATION by id, newest first when rendered (notifications.js). */
  notifications: new Map(),
  unreadCount: 0,
};
