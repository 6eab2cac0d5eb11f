// Money, times and countdowns as the dashboard shows them.

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
