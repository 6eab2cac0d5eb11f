// An order's own page: its lines, totals and timeline (each status with its time, each refund), kept current by the
// live stream; for admins, the refund form. The address bar holds it (#order/<id>), so the browser's back button
// returns to the dashboard and a reload opens the same order.
import { newKey } from './api.js';
import { $, h } from './dom.js';
import { dateTime, money, relativeTime, statusLabel } from './format.js';
import { state } from './state.js';
import { toastError } from './toasts.js';

const ROUTE = /^#order\/([0-9a-fA-F-]{36})$/;
/** The statuses of a sold order, the only ones with money to refund (lib/orders.ts SOLD_ORDER_STATUSES). */
const SOLD = new Set(['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED']);
const REFUND_STATUS = { PENDING: 'Stripe is processing it', SUCCEEDED: 'Money returned', FAILED: 'Refused by Stripe' };
/** After an admin's refund the saga records it on the order a moment later: the page reads again until it has. */
const SETTLE_READS = 20;
const SETTLE_PAUSE_MS = 500;

export const orderPageHash = (orderId) => `#order/${orderId}`;

export function openOrderPage(orderId) {
  window.location.hash = orderPageHash(orderId);
}

/** The order shown (null: the dashboard is), the newest read asked for it, and the refund form's state. */
const page = { orderId: null, reads: 0, refundKey: null, refunding: false };

/** Shows the page the address names: an order's, or the dashboard. Called on every hash change and sign-in. */
export function showRoute() {
  const match = ROUTE.exec(window.location.hash);
  const orderId = state.session && match ? match[1].toLowerCase() : null;
  $('order-page').hidden = orderId === null;
  $('dashboard-home').hidden = orderId !== null;
  if (orderId === page.orderId) return;
  Object.assign(page, { orderId, refundKey: null, refunding: false });
  $('order-page-body').replaceChildren(orderId ? h('div', { class: 'empty' }, 'Loading the order…') : '');
  $('refund-panel').replaceChildren();
  if (orderId) {
    window.scrollTo(0, 0);
    loadOrderPage().catch(() => undefined);
  }
}

/** The live stream told something of this order (its status, a refund): read it again, without a reload. */
export function refreshOrderPage(orderId) {
  if (orderId && orderId === page.orderId) loadOrderPage().catch(() => undefined);
}

/** Reads the order shown and renders it; an older read that answers late is dropped. Answers the order. */
async function loadOrderPage() {
  const { orderId } = page;
  const read = ++page.reads;
  try {
    const order = await state.api.order(orderId);
    if (read !== page.reads || orderId !== page.orderId) return undefined;
    renderOrder(order);
    return order;
  } catch (error) {
    if (read !== page.reads || orderId !== page.orderId) return undefined;
    const text = error.status === 404 ? 'There is no such order in your account.' : error.message;
    $('order-page-body').replaceChildren(h('div', { class: 'empty' }, text));
    throw error;
  }
}

function renderOrder(order) {
  const currency = order.currency;
  const lineRows = order.lines.map((line) =>
    h(
      'tr',
      { dataset: { productId: line.productId } },
      h('td', {}, line.name, h('small', { class: 'muted sku' }, line.sku)),
      h('td', { class: 'num' }, String(line.quantity)),
      h('td', { class: 'num' }, money(line.unitPriceCents, currency)),
      h('td', { class: 'num' }, money(line.unitPriceCents * line.quantity, currency)),
    ),
  );
  const parts = [
    h(
      'div',
      { class: 'order-head' },
      h('h2', {}, 'Order ', h('span', { class: 'order-id' }, `#${order.id.slice(0, 8)}`)),
      h('span', { class: 'status', id: 'order-status', dataset: { status: order.status } }, statusLabel(order.status)),
      h('span', { class: 'muted' }, `Placed ${dateTime(order.createdAt)}`),
    ),
    order.failure ? h('p', { class: 'error-text' }, order.failure.message) : null,
    h(
      'dl',
      { class: 'order-totals' },
      h('div', {}, h('dt', {}, 'Total'), h('dd', { id: 'order-total' }, money(order.totalCents, currency))),
      h('div', {}, h('dt', {}, 'Refunded'), h('dd', { id: 'order-refunded' }, money(order.refundedCents, currency))),
      h(
        'div',
        {},
        h('dt', {}, 'Payment'),
        h('dd', {}, order.payment ? order.payment.status.toLowerCase().replace('_', ' ') : 'none yet'),
      ),
    ),
    h(
      'table',
      { class: 'orders order-lines' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Item'),
          h('th', { class: 'num' }, 'Qty'),
          h('th', { class: 'num' }, 'Price'),
          h('th', { class: 'num' }, 'Amount'),
        ),
      ),
      h('tbody', {}, ...lineRows),
    ),
    h('h3', {}, 'Timeline'),
    h(
      'ol',
      { class: 'timeline', id: 'order-timeline' },
      ...(order.timeline ?? []).map((entry) => timelineItem(entry, order)),
    ),
  ];
  $('order-page-body').replaceChildren(...parts.filter(Boolean));
  renderRefundPanel(order);
}

function describeStatus(entry) {
  if (entry.from === null) return { title: 'Order placed', tone: 'info' };
  const titles = {
    AWAITING_PAYMENT: { title: 'Stock reserved, awaiting payment', tone: 'info' },
    PAID: { title: 'Paid', tone: 'ok' },
    COMPLETED: { title: 'Completed', tone: 'ok' },
    PARTIALLY_REFUNDED: { title: 'Partly refunded', tone: 'refund' },
    REFUNDED: { title: 'Refunded in full', tone: 'refund' },
    EXPIRED: { title: 'Expired: not paid in time, the stock was released', tone: 'muted' },
    CANCELLED: { title: 'Cancelled, the stock was released', tone: 'muted' },
  };
  return titles[entry.status] ?? { title: statusLabel(entry.status), tone: 'danger' };
}

function timelineItem(entry, order) {
  let title;
  let tone;
  let detail = null;
  if (entry.kind === 'refund') {
    const refund = (order.refunds ?? []).find((candidate) => candidate.id === entry.refundId);
    const units = (refund?.lines ?? []).map((line) => {
      const orderLine = order.lines.find((candidate) => candidate.productId === line.productId);
      return `${line.quantity} × ${orderLine?.name ?? line.productId}`;
    });
    title = `Refund of ${money(entry.amountCents, entry.currency)}`;
    tone = entry.status === 'FAILED' ? 'danger' : 'refund';
    detail = [REFUND_STATUS[entry.status] ?? entry.status, units.join(', '), `“${entry.reason}”`]
      .filter(Boolean)
      .join(' · ');
  } else {
    ({ title, tone } = describeStatus(entry));
  }
  return h(
    'li',
    { class: 'timeline-entry', dataset: { kind: entry.kind, status: entry.status, tone } },
    h('time', { datetime: entry.at, title: relativeTime(entry.at) }, dateTime(entry.at)),
    h(
      'div',
      {},
      h('div', { class: 'timeline-title' }, title),
      detail ? h('div', { class: 'muted small' }, detail) : null,
    ),
  );
}

/**
 * The admins' refund form, built once per order shown (a live re-render never clears what is typed): everything
 * left, an amount, or units of its lines, with a reason.
 */
function renderRefundPanel(order) {
  const panel = $('refund-panel');
  const refundable =
    state.session?.role === 'admin' && SOLD.has(order.status) && order.refundedCents < order.totalCents;
  panel.hidden = !refundable;
  if (!refundable || panel.firstChild) return;
  const option = (value, label, checked = false) =>
    h('label', { class: 'check' }, h('input', { type: 'radio', name: 'refund-mode', value, checked }), label);
  const form = h(
    'form',
    { class: 'refund-form', id: 'refund-form', novalidate: true },
    h('h3', {}, 'Refund'),
    h(
      'div',
      { class: 'row refund-modes' },
      option('all', 'Everything left', true),
      option('amount', 'An amount'),
      option('lines', 'Units'),
    ),
    h(
      'label',
      { class: 'refund-amount', for: 'refund-amount' },
      `Amount (${order.currency.toUpperCase()})`,
      h('input', { id: 'refund-amount', type: 'number', min: '0.01', step: '0.01', inputmode: 'decimal' }),
    ),
    h(
      'div',
      { class: 'refund-lines' },
      ...order.lines.map((line) =>
        h(
          'label',
          { class: 'refund-line' },
          h('span', {}, `${line.name} (of ${line.quantity})`),
          h('input', {
            type: 'number',
            min: '0',
            max: String(line.quantity),
            step: '1',
            value: '0',
            dataset: { productId: line.productId },
            'aria-label': `Units of ${line.name} to refund`,
          }),
        ),
      ),
      h(
        'label',
        { class: 'check' },
        h('input', { id: 'refund-restock', type: 'checkbox' }),
        'Put the units back on sale',
      ),
    ),
    h('label', { for: 'refund-reason' }, 'Reason'),
    h('input', { id: 'refund-reason', type: 'text', maxlength: '500', placeholder: 'Arrived broken' }),
    h('button', { class: 'button', type: 'submit', id: 'refund-submit' }, 'Refund'),
    h('p', { class: 'muted', id: 'refund-message', role: 'status' }),
  );
  // Another request is another refund: only an unchanged form, sent again, reuses its key.
  form.addEventListener('input', () => {
    if (!page.refunding) page.refundKey = null;
    showRefundMode(form);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitRefund(form, order.currency).catch((error) => toastError(error, 'The refund was not sent'));
  });
  panel.replaceChildren(form);
  showRefundMode(form);
}

/** Shows the amount or the units inputs when the form's choice asks for them. */
function showRefundMode(form) {
  const mode = form.elements['refund-mode'].value;
  form.querySelector('.refund-amount').hidden = mode !== 'amount';
  form.querySelector('.refund-lines').hidden = mode !== 'lines';
}

/** The request body the form asks for, or a reason it cannot be sent. */
function refundRequest(form) {
  const reason = $('refund-reason').value.trim();
  if (!reason) return { problem: 'Say why: the customer reads it.' };
  const mode = form.elements['refund-mode'].value;
  if (mode === 'amount') {
    const amountCents = Math.round(Number($('refund-amount').value) * 100);
    if (!Number.isInteger(amountCents) || amountCents < 1) return { problem: 'Enter an amount to refund.' };
    return { body: { amountCents, reason } };
  }
  if (mode === 'lines') {
    const lines = [...form.querySelectorAll('.refund-line input')]
      .map((input) => ({ productId: input.dataset.productId, quantity: Number(input.value) }))
      .filter((line) => Number.isInteger(line.quantity) && line.quantity > 0);
    if (lines.length === 0) return { problem: 'Choose the units to refund.' };
    return { body: { lines, reason, restock: $('refund-restock').checked } };
  }
  return { body: { reason } };
}

async function submitRefund(form, currency) {
  // A second click while the first is on its way sends nothing; the key would make it the same refund anyway.
  if (page.refunding) return;
  const message = $('refund-message');
  const { body, problem } = refundRequest(form);
  if (problem) {
    message.textContent = problem;
    return;
  }
  const orderId = page.orderId;
  page.refundKey ??= newKey();
  page.refunding = true;
  const button = $('refund-submit');
  button.disabled = true;
  button.textContent = 'Refunding…';
  message.textContent = '';
  try {
    const refund = await state.api.refund(orderId, body, page.refundKey);
    page.refundKey = null;
    const amount = money(refund.amountCents, currency);
    message.textContent =
      refund.status === 'SUCCEEDED'
        ? `Refunded ${amount}.`
        : refund.status === 'PENDING'
          ? `Stripe is processing the refund of ${amount}.`
          : `Stripe refused the refund of ${amount}: ${refund.failure?.message ?? 'no reason given'}.`;
    if (refund.status !== 'FAILED') {
      form.reset();
      showRefundMode(form);
    }
    await settleAfterRefund(orderId);
  } catch (error) {
    // A refused request is refused again as it is: a new one gets a new key. An answer lost on the way keeps the
    // key, so sending it again cannot refund twice.
    if (error.status >= 400 && error.status < 500) page.refundKey = null;
    message.textContent = error.message;
  } finally {
    page.refunding = false;
    button.disabled = false;
    button.textContent = 'Refund';
  }
}

/** Reads the order until the saga has recorded its refunds on it (the admin's stream does not carry its events). */
async function settleAfterRefund(orderId) {
  for (let read = 0; read < SETTLE_READS && orderId === page.orderId; read++) {
    const order = await loadOrderPage();
    if (!order) return;
    const returned = (order.refunds ?? [])
      .filter((refund) => refund.status === 'SUCCEEDED')
      .reduce((sum, refund) => sum + refund.amountCents, 0);
    if (order.refundedCents >= returned) return;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_PAUSE_MS));
  }
}

export function wireOrderPage() {
  window.addEventListener('hashchange', showRoute);
}
