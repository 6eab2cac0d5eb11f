// Usage this month: the plan's meters, the over-the-limit banner and the "Run a build" button.
import { newKey } from './api.js';
import { $, h } from './dom.js';
import { state } from './state.js';
import { toast, toastError } from './toasts.js';

export async function loadQuota() {
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

export function wireUsage() {
  $('record-build').addEventListener('click', recordBuild);
}

/**
 * Usage recorded elsewhere that crosses no threshold sends no event: refresh the meters now
 * and then, and whenever the tab comes back into view.
 */
export function keepQuotaFresh() {
  setInterval(() => {
    if (state.api && document.visibilityState === 'visible') loadQuota().catch(() => undefined);
  }, 30_000);
  document.addEventListener('visibilitychange', () => {
    if (state.api && document.visibilityState === 'visible') loadQuota().catch(() => undefined);
  });
}
