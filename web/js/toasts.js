// Toasts: short-lived messages in the corner, at most four at a time.
import { $, h } from './dom.js';

export function toast({ title, text, tone = 'info', timeoutMs = 7000 }) {
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

export function toastError(error, fallback = 'Something went wrong') {
  toast({ title: fallback, text: error instanceof Error ? error.message : String(error), tone: 'danger' });
}
