// Notifications: the inbox card, the bell with its unread count and panel, marking read, and alerts arriving live.
import { $, h } from './dom.js';
import { money, relativeTime } from './format.js';
import { state } from './state.js';
import { toast, toastError } from './toasts.js';
import { loadQuota } from './usage.js';

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
    case 'order.refunded':
      return {
        tone: 'ok',
        icon: '↩',
        title: `Refund of ${money(p.amountCents ?? 0, p.currency ?? 'usd')}`,
        text: `Order #${String(p.orderId ?? '').slice(0, 8)}: ${money(p.refundedCents ?? 0, p.currency ?? 'usd')} refunded in all.`,
      };
    case 'refund.failed':
      return {
        tone: 'danger',
        icon: '×',
        title: 'Stripe refused a refund',
        text: `Order #${String(p.orderId ?? '').slice(0, 8)}: ${p.failure?.message ?? ''}`,
      };
    case 'reconciler.drift':
      return { tone: 'danger', icon: '≠', title: "Drift between the store's databases", text: p.message };
    default:
      return { tone: 'info', icon: 'i', title: notification.type, text: p.message ?? '' };
  }
}

export async function loadNotifications() {
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

export function renderBell() {
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

/** A notification from the live stream (each told once): listed, counted, toasted, the bell rung. */
export function showNotificationEvent(notification) {
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

function toggleBellPanel(open = $('bell-panel').hidden) {
  $('bell-panel').hidden = !open;
  $('bell').setAttribute('aria-expanded', String(open));
}

export function wireNotifications() {
  $('mark-all').addEventListener('click', () => markAllRead().catch((error) => toastError(error)));
  $('bell-mark-all').addEventListener('click', () => markAllRead().catch((error) => toastError(error)));
  $('bell').addEventListener('click', (event) => {
    event.stopPropagation();
    toggleBellPanel();
  });
  $('bell-panel').addEventListener('click', (event) => event.stopPropagation());
  document.addEventListener('click', () => toggleBellPanel(false));
  document.addEventListener('keydown', (event) => event.key === 'Escape' && toggleBellPanel(false));
}
