// What the dashboard knows of the signed-in customer, shared by the views (each loads and renders its own part).

export const state = {
  /** The signed-in user (id, email, role, plan) and the API and live stream opened for them (session.js). */
  session: null,
  api: null,
  live: null,
  /** The plan's usage (usage.js). */
  quota: null,
  /** The catalogue (catalogue.js) and the cart (cart.js): each renders with the other's numbers. */
  products: [],
  cart: { items: [], totalCents: 0, currency: 'usd' },
  /** Orders by id, and the ids of those with a payment or cancellation under way (orders.js). */
  orders: new Map(),
  busy: new Set(),
  /** Notifications of kind NOTIFICATION by id, newest first when rendered (notifications.js). */
  notifications: new Map(),
  unreadCount: 0,
};
