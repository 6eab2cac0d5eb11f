// Orders: the table of recent orders, placing one from the cart, paying or cancelling it, its status changing live,
// and a row opening the order's own page.
import { newKey } from './api.js';
import { loadCart } from './cart.js';
import { loadProducts } from './catalogue.js';
import { openOrderPage, orderPageHash } from './order-page.js';
import { $, h } from './dom.js';
import { countdown, money, relativeTime, statusLabel, timeLeft } from './format.js';
import { state } from './state.js';
import { toast, toastError } from './toasts.js';
import { loadQuota } from './usage.js';

const TERMINAL = new Set(['COMPLETED', 'REJECTED', 'EXPIRED', 'CANCELLED', 'FAILED']);
const PAYMENT_METHOD = 'pm_card_visa';

/** Orders per page: the newest first, older ones on demand. */
const ORDERS_PAGE_SIZE = 10;

/** The newest page of orders (again after a status event about an order not shown). */
export async function loadOrders() {
  const page = await state.api.orders(new URLSearchParams({ limit: String(ORDERS_PAGE_SIZE) }));
  state.orders = new Map(page.items.map((order) => [order.id, order]));
  state.ordersCursor = page.nextCursor;
  renderOrders();
}

async function loadOlderOrders() {
  const button = $('orders-more');
  button.disabled = true;
  try {
    const query = new URLSearchParams({ limit: String(ORDERS_PAGE_SIZE), cursor: state.ordersCursor });
    const page = await state.api.orders(query);
    for (const order of page.items) state.orders.set(order.id, order);
    state.ordersCursor = page.nextCursor;
    renderOrders();
  } catch (error) {
    toastError(error, 'Older orders could not be loaded');
  } finally {
    button.disabled = false;
  }
}

async function checkout() {
  const button = $('checkout');
  button.disabled = true;
  button.textContent = 'Placing order…';
  try {
    const order = await state.api.placeOrder(newKey());
    state.orders.set(order.id, order);
    renderOrders(order.id);
    toast({
      title: 'Order placed',
      text: `${money(order.totalCents, order.currency)} reserved for you. Pay within ${timeLeft(order.expiresAt)}.`,
      tone: 'ok',
    });
    await Promise.all([loadProducts(), loadQuota()]);
  } catch (error) {
    const titles = {
      OUT_OF_STOCK: 'Not enough stock',
      QUOTA_EXCEEDED: 'Order limit reached',
      CART_EMPTY: 'Your cart is empty',
    };
    toastError(error, titles[error.code] ?? 'The order was not placed');
    await Promise.all([loadProducts(), loadQuota()]).catch(() => undefined);
  } finally {
    button.disabled = false;
    button.textContent = 'Check out';
  }
}

async function orderAction(orderId, action) {
  state.busy.add(orderId);
  renderOrders();
  try {
    const order = action === 'pay' ? await state.api.pay(orderId, PAYMENT_METHOD) : await state.api.cancel(orderId);
    state.orders.set(order.id, order);
    if (action === 'pay') await loadCart();
  } catch (error) {
    toastError(error, action === 'pay' ? 'Payment failed' : 'The order was not cancelled');
  } finally {
    state.busy.delete(orderId);
    renderOrders();
  }
}

function renderOrders(flashId) {
  const orders = [...state.orders.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  $('orders-more').hidden = !state.ordersCursor;
  $('orders-empty').hidden = orders.length > 0;
  $('orders').hidden = orders.length === 0;
  $('orders-body').replaceChildren(
    ...orders.map((order) => {
      const busy = state.busy.has(order.id);
      const lines = order.lines.map((line) => `${line.quantity} × ${line.name}`).join(', ');
      const actions =
        order.status === 'AWAITING_PAYMENT'
          ? [
              h(
                'button',
                {
                  class: 'button button-small',
                  type: 'button',
                  disabled: busy,
                  onclick: () => orderAction(order.id, 'pay'),
                },
                busy ? 'Working…' : 'Pay',
              ),
              h(
                'button',
                {
                  class: 'button button-ghost button-small',
                  type: 'button',
                  disabled: busy,
                  onclick: () => orderAction(order.id, 'cancel'),
                },
                'Cancel',
              ),
            ]
          : [];
      const when =
        order.status === 'AWAITING_PAYMENT' && order.expiresAt
          ? h(
              'span',
              { class: 'order-when', dataset: { expires: order.expiresAt } },
              `Expires in ${countdown(order.expiresAt)}`,
            )
          : h('span', { class: 'order-when' }, relativeTime(order.updatedAt));
      return h(
        'tr',
        {
          class: `order-row${order.id === flashId ? ' flash' : ''}`,
          dataset: { orderId: order.id, status: order.status },
          title: 'Open the order',
          // The row opens the order's page; its Pay and Cancel buttons do only what they say.
          onclick: (event) => event.target.closest('button') || openOrderPage(order.id),
        },
        h('td', {}, h('a', { class: 'order-id', href: orderPageHash(order.id) }, `#${order.id.slice(0, 8)}`), when),
        h('td', {}, lines),
        h('td', { class: 'num' }, money(order.totalCents, order.currency)),
        h(
          'td',
          {},
          h('span', { class: 'status', dataset: { status: order.status } }, statusLabel(order.status)),
          order.failure ? h('span', { class: 'order-when' }, order.failure.message) : null,
        ),
        h('td', {}, h('div', { class: 'actions' }, actions)),
      );
    }),
  );
}

/** An order event from the live stream: the row changes (or the list reloads) and a toast tells the outcome. */
export function showOrderEvent(event) {
  const { orderId, status, failure } = event.payload;
  const known = state.orders.get(orderId);
  if (known) {
    if (known.status !== status)
      state.orders.set(orderId, {
        ...known,
        status,
        failure: failure ?? known.failure,
        refundedCents: event.payload.refundedCents ?? known.refundedCents,
        updatedAt: event.createdAt,
      });
    renderOrders(orderId);
  } else {
    loadOrders().catch(() => undefined);
  }
  const short = `#${String(orderId).slice(0, 8)}`;
  const amount =
    event.payload.totalCents !== undefined ? money(event.payload.totalCents, event.payload.currency ?? 'usd') : '';
  const messages = {
    COMPLETED: { title: `Order ${short} completed`, text: `Paid ${amount}. Thank you!`, tone: 'ok' },
    EXPIRED: {
      title: `Order ${short} expired`,
      text: 'It was not paid in time; the stock was released.',
      tone: 'warn',
    },
    CANCELLED: { title: `Order ${short} cancelled`, text: 'The reserved stock was released.', tone: 'info' },
    FAILED: { title: `Order ${short} failed`, text: failure?.message ?? 'The payment was refunded.', tone: 'danger' },
    REJECTED: { title: `Order ${short} rejected`, text: failure?.message ?? '', tone: 'danger' },
    NEEDS_ATTENTION: {
      title: `Order ${short} needs attention`,
      text: 'Our team has been told and will sort it out.',
      tone: 'danger',
    },
  };
  if (messages[status]) toast(messages[status]);
  if (TERMINAL.has(status)) {
    Promise.all([loadProducts(), loadCart(), loadQuota()]).catch(() => undefined);
  }
}

export function wireOrders() {
  $('checkout').addEventListener('click', checkout);
  $('orders-more').addEventListener('click', loadOlderOrders);
}

/** Keeps the payment countdowns moving. */
export function keepCountdownsMoving() {
  setInterval(() => {
    for (const element of document.querySelectorAll('[data-expires]'))
      element.textContent = `Expires in ${countdown(element.dataset.expires)}`;
  }, 1000);
}
