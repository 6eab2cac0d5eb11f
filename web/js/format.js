// Money, times, countdowns and order statuses as the dashboard shows them.

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
  PARTIALLY_REFUNDED: 'Partly refunded',
  REFUNDED: 'Refunded',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

export function money(cents, currency = 'usd') {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
}

export function relativeTime(iso) {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** "15 min" for a while, then "0:42". */
export function timeLeft(iso) {
  const seconds = Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000));
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : countdown(iso);
}

export function countdown(iso) {
  const left = Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}

/** A moment to the second, in the reader's own time zone. */
export function dateTime(iso) {
  return new Date(iso).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}
