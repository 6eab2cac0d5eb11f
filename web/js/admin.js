// The admins' orders view: every customer's orders, searched by customer (email or id) or status, those that need
// attention first; a row opens the order's page, where its refund form is.
import { ApiError } from './api.js';
import { $, h } from './dom.js';
import { money, relativeTime, statusLabel } from './format.js';
import { openOrderPage, orderPageHash } from './order-page.js';
import { state } from './state.js';

const PAGE_SIZE = 20;
/** A user id as the API takes one (docs/design.md); anything with an @ is searched as an email. */
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What the view shows: the orders listed, the cursor of the next page, and the search that found them. */
const view = { orders: [], cursor: null, search: 0 };

function searchQuery() {
  const customer = $('admin-customer').value.trim();
  const status = $('admin-status').value;
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (status) query.set('status', status);
  if (customer.includes('@')) query.set('customerEmail', customer);
  else if (USER_ID.test(customer)) query.set('customerId', customer);
  else if (customer) return { problem: 'Search by an email address or a user id.' };
  return { query };
}

/**
 * The first page of the search. Without a status chosen, the orders that need an operator come first: they are
 * asked for on their own, then the newest of every status, without the ones already listed.
 */
export async function loadAdminOrders() {
  const search = ++view.search;
  const { query, problem } = searchQuery();
  $('admin-note').textContent = problem ?? '';
  if (problem) return;
  const attention = new URLSearchParams(query);
  attention.set('status', 'NEEDS_ATTENTION');
  attention.set('limit', '100');
  try {
    const [urgent, page] = await Promise.all([
      query.has('status') ? { items: [] } : state.api.allOrders(attention),
      state.api.allOrders(query),
    ]);
    if (search !== view.search) return;
    const listed = new Set(urgent.items.map((order) => order.id));
    view.orders = [...urgent.items, ...page.items.filter((order) => !listed.has(order.id))];
    view.cursor = page.nextCursor;
    renderAdminOrders();
  } catch (error) {
    if (search !== view.search) return;
    $('admin-note').textContent = error instanceof ApiError ? error.message : String(error);
  }
}

async function loadMore() {
  const { query } = searchQuery();
  if (!query || !view.cursor) return;
  query.set('cursor', view.cursor);
  const search = view.search;
  const page = await state.api.allOrders(query);
  if (search !== view.search) return;
  const listed = new Set(view.orders.map((order) => order.id));
  view.orders.push(...page.items.filter((order) => !listed.has(order.id)));
  view.cursor = page.nextCursor;
  renderAdminOrders();
}

function renderAdminOrders() {
  $('admin-empty').hidden = view.orders.length > 0;
  $('admin-orders').hidden = view.orders.length === 0;
  $('admin-more').hidden = !view.cursor;
  $('admin-orders-body').replaceChildren(
    ...view.orders.map((order) =>
      h(
        'tr',
        {
          class: 'order-row',
          dataset: { orderId: order.id, status: order.status },
          title: 'Open the order',
          onclick: () => openOrderPage(order.id),
        },
        h(
          'td',
          {},
          h('a', { class: 'order-id', href: orderPageHash(order.id) }, `#${order.id.slice(0, 8)}`),
          h('span', { class: 'order-when' }, relativeTime(order.createdAt)),
        ),
        h('td', { class: 'customer-id' }, order.customerId ?? ''),
        h('td', {}, order.lines.map((line) => `${line.quantity} × ${line.name}`).join(', ')),
        h('td', { class: 'num' }, money(order.totalCents, order.currency)),
        h('td', { class: 'num' }, order.refundedCents ? money(order.refundedCents, order.currency) : '—'),
        h('td', {}, h('span', { class: 'status', dataset: { status: order.status } }, statusLabel(order.status))),
      ),
    ),
  );
}

/** Shows the view to admins only (the API refuses everyone else's lists anyway). */
export function showAdminView() {
  const admin = state.session?.role === 'admin';
  $('admin-card').hidden = !admin;
  if (admin) loadAdminOrders();
}

export function wireAdmin() {
  $('admin-search').addEventListener('submit', (event) => {
    event.preventDefault();
    loadAdminOrders();
  });
  $('admin-status').addEventListener('change', () => loadAdminOrders());
  $('admin-more').addEventListener('click', () =>
    loadMore().catch((error) => ($('admin-note').textContent = error.message)),
  );
}
