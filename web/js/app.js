// The storefront dashboard: sign up or in (or as a demo customer on the local stack), see the plan's usage, shop, check out and
// pay, and follow orders and notifications live. Plain DOM code; every text goes in through
// textContent, never as HTML.
import { ApiError, auth, client, hasSession, newKey } from './api.js';
import { openLiveStream } from './live.js';

const $ = (id) => document.getElementById(id);

/** Builds an element: h('div', { class: 'x', onclick: fn }, 'text', child). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const STATUS_LABELS = {
  PENDING: 'Pending',
  AWAITING_PAYMENT: 'Awaiting payment',
  PAID: 'Paid',
  COMPLETED: 'Completed',
  REJECTED: 'Rejected',
  EXPIRED: 'Expired',
  CANCELLED: 'Cancelled',
  FAILED: 'Failed',
  NEEDS_ATTENTION: 'Needs attention',
};
const TERMINAL = new Set(['COMPLETED', 'REJECTED', 'EXPIRED', 'CANCELLED', 'FAILED']);
const PAYMENT_METHOD = 'pm_card_visa';

const state = {
  session: null,
  api: null,
  live: null,
  quota: null,
  products: [],
  cart: { items: [], totalCents: 0, currency: 'usd' },
  orders: new Map(),
  /** Notifications of kind NOTIFICATION by id, newest first when rendered. */
  notifications: new Map(),
  unreadCount: 0,
  busy: new Set(),
};

// ---------- formatting ----------

function money(cents, currency = 'usd') {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
}

function relativeTime(iso) {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** "15 min" for a while, then "0:42". */
function timeLeft(iso) {
  const seconds = Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000));
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : countdown(iso);
}

function countdown(iso) {
  const left = Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}

const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function describeNotification(notification) {
  const p = notification.payload ?? {};
  const resource = String(p.resource ?? 'usage');
  switch (notification.type) {
    case 'quota.warning':
      return {
        tone: 'warn',
        icon: '%',
        title: `${capitalize(resource)}: ${p.threshold} % of your plan used`,
        text: p.message,
      };
    case 'quota.exceeded':
      return {
        tone: 'danger',
        icon: '!',
        title:
          p.enforcement === 'HARD' ? `${capitalize(resource)} limit reached` : `You are over your ${resource} limit`,
        text: p.message,
      };
    case 'payment.declined':
      return { tone: 'danger', icon: '×', title: 'Payment declined', text: p.message };
    case 'reconciler.drift':
      return { tone: 'danger', icon: '≠', title: "Drift between the store's databases", text: p.message };
    default:
      return { tone: 'info', icon: 'i', title: notification.type, text: p.message ?? '' };
  }
}

// ---------- toasts ----------

function toast({ title, text, tone = 'info', timeoutMs = 7000 }) {
  const element = h(
    'div',
    { class: 'toast', role: 'status', dataset: { tone } },
    h(
      'div',
      { class: 'toast-body' },
      h('div', { class: 'toast-title' }, title),
      text ? h('div', { class: 'toast-text' }, text) : null,
    ),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', onclick: () => dismiss() }, '×'),
  );
  const dismiss = () => {
    element.classList.add('leaving');
    setTimeout(() => element.remove(), 200);
  };
  $('toasts').append(element);
  while ($('toasts').children.length > 4) $('toasts').firstElementChild.remove();
  setTimeout(dismiss, timeoutMs);
}

function toastError(error, fallback = 'Something went wrong') {
  toast({ title: fallback, text: error instanceof Error ? error.message : String(error), tone: 'danger' });
}

// ---------- session ----------

function showSignedOut() {
  $('signed-in').hidden = true;
  $('session-controls').hidden = true;
  $('signed-out').hidden = false;
}

/** Shows the dashboard for the signed-in user (`me`: id, email, role, plan). */
async function startSession(me) {
  state.session = me;
  state.api = client();
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('session-controls').hidden = false;
  $('user-name').textContent = me.email ?? me.id;
  $('user-avatar').textContent = (me.email ?? me.id).charAt(0).toUpperCase();
  try {
    const [, , , , list] = await Promise.all([
      loadQuota(),
      loadProducts(),
      loadCart(),
      loadOrders(),
      loadNotifications(),
    ]);
    state.live = openLiveStream({ afterSequence: list.lastSequence, onEvent: handleLiveEvent, onState: setLiveState });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showSignIn('Your session has ended; sign in again.');
    toastError(error, 'Could not load the dashboard');
  }
}

function showSignIn(message) {
  state.live?.close();
  state.live = null;
  Object.assign(state, {
    session: null,
    api: null,
    quota: null,
    products: [],
    orders: new Map(),
    notifications: new Map(),
    unreadCount: 0,
  });
  renderBell();
  showSignedOut();
  $('signin-error').hidden = !message;
  $('signin-error').textContent = message ?? '';
}

async function signOut() {
  try {
    await auth.signOut();
  } catch (error) {
    // Already signed out (401) is what was wanted; anything else is worth telling.
    if (!(error instanceof ApiError && error.status === 401)) return toastError(error, 'Could not sign out');
  }
  showSignIn();
}

/** Signs in (or up) with email and password; the API sets the session cookie. */
async function authenticate(mode, email, password) {
  $('signin-error').hidden = true;
  try {
    const { user } = mode === 'signup' ? await auth.signUp(email, password) : await auth.signIn(email, password);
    $('auth-password').value = '';
    await startSession(user);
  } catch (error) {
    $('signin-error').textContent = error.message;
    $('signin-error').hidden = false;
  }
}

/** On the local stack, the seeded demo customers are one click away. */
async function offerDemoAccounts() {
  let demo;
  try {
    demo = await auth.demoAccounts();
  } catch {
    return; // not offered (production)
  }
  const list = $('demo-users');
  list.replaceChildren(
    ...demo.accounts.map(({ email, note }) => {
      const name = email.split('@')[0];
      return h(
        'button',
        {
          type: 'button',
          class: 'demo-user',
          dataset: { user: name },
          onclick: () => authenticate('signin', email, demo.password),
        },
        h('span', { class: 'avatar' }, name.charAt(0).toUpperCase()),
        h('span', {}, h('strong', {}, name), h('small', {}, note)),
      );
    }),
  );
  $('demo-password').textContent = demo.password;
  $('demo').hidden = false;
}

function setLiveState(liveState) {
  $('live-status').dataset.state = liveState;
  $('live-label').textContent = liveState === 'open' ? 'Live' : liveState === 'closed' ? 'Offline' : 'Connecting…';
}

// ---------- quota ----------

async function loadQuota() {
  state.quota = await state.api.quota();
  renderQuota();
}

function meterLevel(resource) {
  if (resource.overLimit || (resource.enforcement === 'HARD' && resource.used >= resource.limit)) return 'over';
  if (resource.used * 100 >= resource.limit * 80) return 'warn';
  return 'ok';
}

function renderQuota() {
  const quota = state.quota;
  if (!quota) return;
  $('user-plan').textContent = `${quota.plan} plan`;
  const resets = new Date(quota.resetsAt).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  $('quota-reset').textContent = `Resets ${resets}`;
  const meters = quota.resources.map((resource) => {
    const level = meterLevel(resource);
    const percent = resource.limit > 0 ? Math.min(100, (resource.used / resource.limit) * 100) : 100;
    const fill = h('div', { class: 'meter-fill' });
    fill.style.width = `${percent}%`;
    let note = `${Math.max(0, resource.limit - resource.used)} left this month`;
    if (resource.overLimit) note = `${resource.used - resource.limit} over your plan's limit`;
    else if (level === 'over') note = 'Limit reached: new ones are refused until the period resets';
    else if (level === 'warn')
      note = `${Math.round((resource.used / resource.limit) * 100)} % used, ${resource.limit - resource.used} left`;
    return h(
      'div',
      { class: 'meter', dataset: { resource: resource.resource, level } },
      h(
        'div',
        { class: 'meter-label' },
        h(
          'span',
          {},
          h('strong', {}, resource.resource),
          h(
            'span',
            {
              class: 'enforcement',
              title: resource.enforcement === 'HARD' ? 'Refused past the limit' : 'Recorded past the limit',
            },
            resource.enforcement === 'HARD' ? 'hard' : 'soft',
          ),
        ),
        h('span', { class: 'meter-value' }, `${resource.used} / ${resource.limit}`),
      ),
      h(
        'div',
        {
          class: 'meter-track',
          role: 'progressbar',
          'aria-valuemin': 0,
          'aria-valuemax': resource.limit,
          'aria-valuenow': resource.used,
          'aria-label': resource.resource,
        },
        fill,
      ),
      h('div', { class: 'meter-note' }, note),
    );
  });
  $('meters').replaceChildren(...meters);

  const over = quota.resources.filter((resource) => meterLevel(resource) === 'over');
  $('over-banner').hidden = over.length === 0;
  $('over-banner').textContent = over
    .map((resource) =>
      resource.overLimit
        ? `You are over your ${quota.plan} plan: ${resource.used} of ${resource.limit} ${resource.resource} used this month.`
        : `You have used all ${resource.limit} ${resource.resource} of your ${quota.plan} plan this month; new ${resource.resource} are refused until ${resets}.`,
    )
    .join(' ');
}

async function recordBuild() {
  const button = $('record-build');
  button.disabled = true;
  try {
    const result = await state.api.recordUsage('builds', 1, newKey());
    await loadQuota();
    toast({
      title: 'Build recorded',
      text: `${result.used} of ${result.limit} builds used this month${result.overLimit ? ' — over your plan' : ''}.`,
      tone: result.overLimit ? 'warn' : 'ok',
      timeoutMs: 3500,
    });
  } catch (error) {
    toastError(error, 'The build was not recorded');
  } finally {
    button.disabled = false;
  }
}

// ---------- products and cart ----------

async function loadProducts() {
  state.products = (await state.api.products()).items;
  renderProducts();
}

function artColor(sku) {
  let hash = 0;
  for (const char of sku) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 55%)`;
}

function renderProducts() {
  $('products-note').textContent = `${state.products.length} products`;
  const inCart = new Map(state.cart.items.map((item) => [item.productId, item.quantity]));
  const cards = state.products.map((product) => {
    const art = h(
      'div',
      { class: 'product-art', 'aria-hidden': 'true' },
      product.name
        .split(/\s+/)
        .slice(0, 2)
        .map((word) => word[0].toUpperCase())
        .join(''),
    );
    art.style.background = `linear-gradient(135deg, ${artColor(product.sku)}, ${artColor(product.sku + '!')})`;
    const stockClass = product.available === 0 ? 'stock out' : product.available <= 5 ? 'stock low' : 'stock';
    const stockText =
      product.available === 0
        ? 'Sold out'
        : product.available <= 5
          ? `Only ${product.available} left`
          : `${product.available} in stock`;
    const quantity = inCart.get(product.id) ?? 0;
    if (quantity > 0) art.append(h('span', { class: 'in-cart' }, `${quantity} in cart`));
    return h(
      'article',
      { class: 'product', dataset: { sku: product.sku } },
      art,
      h('div', { class: 'product-name' }, product.name),
      h(
        'div',
        { class: 'product-meta' },
        h('span', { class: 'price' }, money(product.priceCents, product.currency)),
        h('span', { class: stockClass }, stockText),
      ),
      h(
        'button',
        {
          class: 'button button-secondary button-small',
          type: 'button',
          disabled: product.available <= quantity,
          onclick: () => setCartQuantity(product.id, quantity + 1),
        },
        quantity > 0 ? 'Add another' : 'Add to cart',
      ),
    );
  });
  $('products').replaceChildren(...cards);
}

async function loadCart() {
  state.cart = await state.api.cart();
  renderCart();
}

async function setCartQuantity(productId, quantity) {
  try {
    state.cart = await state.api.setCartItem(productId, quantity);
    renderCart();
  } catch (error) {
    toastError(error, 'The cart was not updated');
  }
}

function renderCart() {
  const items = state.cart.items;
  const byId = new Map(state.products.map((product) => [product.id, product]));
  const units = items.reduce((sum, item) => sum + item.quantity, 0);
  $('cart-count').textContent = units ? `${units} item${units === 1 ? '' : 's'}` : '';
  $('cart-empty').hidden = items.length > 0;
  $('cart-foot').hidden = items.length === 0;
  $('cart-total').textContent = money(state.cart.totalCents, state.cart.currency);
  $('cart').replaceChildren(
    ...items.map((item) => {
      const product = byId.get(item.productId);
      return h(
        'li',
        { class: 'cart-item' },
        h(
          'div',
          { class: 'cart-item-name' },
          h('div', {}, product?.name ?? 'Product'),
          h('small', {}, `${money(item.priceCents, state.cart.currency)} each`),
        ),
        h(
          'div',
          { class: 'stepper' },
          h(
            'button',
            {
              type: 'button',
              'aria-label': 'One less',
              onclick: () => setCartQuantity(item.productId, item.quantity - 1),
            },
            '−',
          ),
          h('span', {}, item.quantity),
          h(
            'button',
            {
              type: 'button',
              'aria-label': 'One more',
              disabled: product && product.available <= item.quantity,
              onclick: () => setCartQuantity(item.productId, item.quantity + 1),
            },
            '+',
          ),
        ),
      );
    }),
  );
  renderProducts();
}

// ---------- orders ----------

async function loadOrders() {
  const { items } = await state.api.orders();
  state.orders = new Map(items.map((order) => [order.id, order]));
  renderOrders();
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
  const orders = [...state.orders.values()]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, 12);
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
        { class: order.id === flashId ? 'flash' : undefined, dataset: { orderId: order.id, status: order.status } },
        h('td', {}, h('span', { class: 'order-id' }, `#${order.id.slice(0, 8)}`), when),
        h('td', {}, lines),
        h('td', { class: 'num' }, money(order.totalCents, order.currency)),
        h(
          'td',
          {},
          h(
            'span',
            { class: 'status', dataset: { status: order.status } },
            STATUS_LABELS[order.status] ?? order.status,
          ),
          order.failure ? h('span', { class: 'order-when' }, order.failure.message) : null,
        ),
        h('td', {}, h('div', { class: 'actions' }, actions)),
      );
    }),
  );
}

// Usage recorded elsewhere that crosses no threshold sends no event: refresh the meters now
// and then, and whenever the tab comes back into view.
setInterval(() => {
  if (state.api && document.visibilityState === 'visible') loadQuota().catch(() => undefined);
}, 30_000);
document.addEventListener('visibilitychange', () => {
  if (state.api && document.visibilityState === 'visible') loadQuota().catch(() => undefined);
});

// Keep the payment countdowns moving.
setInterval(() => {
  for (const element of document.querySelectorAll('[data-expires]'))
    element.textContent = `Expires in ${countdown(element.dataset.expires)}`;
}, 1000);

// ---------- notifications ----------

async function loadNotifications() {
  const [unread, recent] = await Promise.all([
    state.api.notifications('?unread=true&limit=50'),
    state.api.notifications('?limit=50'),
  ]);
  state.notifications = new Map();
  for (const notification of [...unread.items, ...recent.items]) {
    if (notification.kind === 'NOTIFICATION') state.notifications.set(notification.id, notification);
  }
  state.unreadCount = unread.unreadCount;
  renderNotifications();
  return { lastSequence: Math.max(unread.lastSequence, recent.lastSequence) };
}

function notificationItem(notification) {
  const { tone, icon, title, text } = describeNotification(notification);
  return h(
    'li',
    {
      class: `notification${notification.read ? '' : ' unread'}`,
      dataset: { tone, type: notification.type, id: notification.id },
      tabindex: 0,
      title: notification.read ? undefined : 'Mark as read',
      onclick: () => markRead(notification),
      onkeydown: (event) => event.key === 'Enter' && markRead(notification),
    },
    h('div', { class: 'notification-icon', 'aria-hidden': 'true' }, icon),
    h(
      'div',
      { class: 'notification-body' },
      h('div', { class: 'notification-title' }, title),
      text ? h('div', { class: 'notification-text' }, text) : null,
      h('div', { class: 'notification-time' }, relativeTime(notification.createdAt)),
    ),
  );
}

function renderNotifications() {
  const all = [...state.notifications.values()].sort((a, b) => b.sequence - a.sequence);
  const unread = all.filter((notification) => !notification.read);
  $('inbox').replaceChildren(...unread.slice(0, 8).map(notificationItem));
  $('inbox-empty').hidden = unread.length > 0;
  $('mark-all').hidden = unread.length === 0;
  const recent = all.slice(0, 20);
  $('bell-list').replaceChildren(
    ...(recent.length ? recent.map(notificationItem) : [h('li', { class: 'empty' }, 'No notifications yet.')]),
  );
  $('bell-mark-all').hidden = unread.length === 0;
  renderBell();
}

function renderBell() {
  const count = state.unreadCount;
  $('bell-count').hidden = count === 0;
  $('bell-count').textContent = count > 99 ? '99+' : String(count);
  $('bell').setAttribute('aria-label', count ? `Notifications, ${count} unread` : 'Notifications');
}

async function markRead(notification) {
  if (notification.read) return;
  try {
    const updated = await state.api.markRead(notification.id);
    state.notifications.set(updated.id, updated);
    state.unreadCount = Math.max(0, state.unreadCount - 1);
    renderNotifications();
  } catch (error) {
    toastError(error, 'Could not mark it read');
  }
}

async function markAllRead() {
  const unread = [...state.notifications.values()].filter((notification) => !notification.read);
  for (const notification of unread) await markRead(notification);
  // Anything older than what is listed: the server's count is the truth.
  const { unreadCount } = await state.api.notifications('?unread=true&limit=1');
  state.unreadCount = unreadCount;
  renderBell();
}

function handleLiveEvent(type, notification) {
  if (type === 'order') return handleOrderEvent(notification);
  if (state.notifications.has(notification.id)) return;
  state.notifications.set(notification.id, notification);
  if (!notification.read) state.unreadCount += 1;
  renderNotifications();
  const { tone, title, text } = describeNotification(notification);
  toast({ title, text, tone, timeoutMs: 9000 });
  const bell = $('bell');
  bell.classList.remove('ring');
  void bell.offsetWidth;
  bell.classList.add('ring');
  if (notification.type.startsWith('quota.')) loadQuota().catch(() => undefined);
}

function handleOrderEvent(event) {
  const { orderId, status, failure } = event.payload;
  const known = state.orders.get(orderId);
  if (known) {
    if (known.status !== status)
      state.orders.set(orderId, { ...known, status, failure: failure ?? known.failure, updatedAt: event.createdAt });
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

// ---------- wiring ----------

function toggleBellPanel(open = $('bell-panel').hidden) {
  $('bell-panel').hidden = !open;
  $('bell').setAttribute('aria-expanded', String(open));
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const mode = event.submitter?.value === 'signup' ? 'signup' : 'signin';
    authenticate(mode, $('auth-email').value.trim(), $('auth-password').value);
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('record-build').addEventListener('click', recordBuild);
  $('checkout').addEventListener('click', checkout);
  $('mark-all').addEventListener('click', () => markAllRead().catch((error) => toastError(error)));
  $('bell-mark-all').addEventListener('click', () => markAllRead().catch((error) => toastError(error)));
  $('bell').addEventListener('click', (event) => {
    event.stopPropagation();
    toggleBellPanel();
  });
  $('bell-panel').addEventListener('click', (event) => event.stopPropagation());
  document.addEventListener('click', () => toggleBellPanel(false));
  document.addEventListener('keydown', (event) => event.key === 'Escape' && toggleBellPanel(false));

  offerDemoAccounts();
  // Without the session's cookies there is nothing to ask the server (and no 401 to log).
  if (hasSession()) auth.me().then(startSession, () => showSignedOut());
  else showSignedOut();
});
