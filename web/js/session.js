// The session: signing up, in (by form or as a demo customer) and out, opening every view and the live stream.
import { showAdminView } from './admin.js';
import { ApiError, auth, client, hasSession } from './api.js';
import { loadCart } from './cart.js';
import { loadProducts } from './catalogue.js';
import { $, h } from './dom.js';
import { openLiveStream } from './live.js';
import { loadNotifications, renderBell, showNotificationEvent } from './notifications.js';
import { refreshOrderPage, showRoute } from './order-page.js';
import { loadOrders, showOrderEvent } from './orders.js';
import { state } from './state.js';
import { toast, toastError } from './toasts.js';
import { loadQuota } from './usage.js';

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
  showRoute();
  showAdminView();
  try {
    const [, , , , list] = await Promise.all([
      loadQuota(),
      loadProducts(),
      loadCart(),
      loadOrders(),
      loadNotifications(),
    ]);
    state.live = openLiveStream({ afterSequence: list.lastSequence, onEvent: showLiveEvent, onState: setLiveState });
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
    productsById: new Map(),
    productsCursor: null,
    ordersCursor: null,
    orders: new Map(),
    notifications: new Map(),
    unreadCount: 0,
  });
  renderBell();
  showRoute();
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

function showLiveEvent(type, event) {
  if (type === 'order') showOrderEvent(event);
  else showNotificationEvent(event);
  // A status change or a refund of the order on screen: its page reads it again.
  refreshOrderPage(event.payload?.orderId);
}

/** A line under the sign-in card (a link mailed, a password set, an address confirmed). */
function tellSignedOut(message) {
  $('account-message').textContent = message;
  $('account-message').hidden = false;
}

/**
 * The links in account mail open the dashboard with a token in the fragment (never sent to the
 * server): `#reset-password=` shows the form for a new password, `#verify-email=` confirms the address.
 */
function followMailLink() {
  const match = /^#(reset-password|verify-email)=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (!match) return;
  const [, kind, token] = match;
  history.replaceState(null, '', window.location.pathname);
  if (kind === 'reset-password') {
    $('reset-form').hidden = false;
    $('reset-form').dataset.token = token;
    $('reset-password').focus();
    return;
  }
  auth.verifyEmail(token).then(
    () => {
      tellSignedOut('Your email address is confirmed: you can place orders.');
      toast({ title: 'Email address confirmed', tone: 'success' });
    },
    (error) => tellSignedOut(error.message),
  );
}

export function wireAccountForms() {
  $('forgot-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await auth.requestPasswordReset($('forgot-email').value.trim());
      tellSignedOut('If that address has an account, a link to choose a new password is on its way.');
    } catch (error) {
      tellSignedOut(error.message);
    }
  });
  $('reset-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await auth.resetPassword($('reset-form').dataset.token, $('reset-password').value);
      $('reset-form').hidden = true;
      $('reset-password').value = '';
      tellSignedOut('Your password is changed. Sign in with it.');
    } catch (error) {
      tellSignedOut(error.message);
    }
  });
  $('account-toggle').addEventListener('click', () => {
    const panel = $('account-panel');
    panel.hidden = !panel.hidden;
    $('account-toggle').setAttribute('aria-expanded', String(!panel.hidden));
  });
  $('password-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const { endedSessions } = await auth.changePassword($('current-password').value, $('new-password').value);
      $('current-password').value = '';
      $('new-password').value = '';
      $('account-status').textContent = `Password changed; ${endedSessions} other session(s) signed out.`;
    } catch (error) {
      $('account-status').textContent = error.message;
    }
  });
  $('sign-out-everywhere').addEventListener('click', async () => {
    try {
      await auth.signOutEverywhere();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) return toastError(error, 'Could not sign out');
    }
    $('account-panel').hidden = true;
    showSignIn('Signed out everywhere.');
  });
  followMailLink();
}

export function wireSignIn() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const mode = event.submitter?.value === 'signup' ? 'signup' : 'signin';
    authenticate(mode, $('auth-email').value.trim(), $('auth-password').value);
  });
  $('sign-out').addEventListener('click', () => signOut());
}

/** Offers the demo customers and reopens the session the cookie still holds, if any. */
export function resumeSession() {
  offerDemoAccounts();
  // Without the session's cookies there is nothing to ask the server (and no 401 to log).
  if (hasSession()) auth.me().then(startSession, () => showSignedOut());
  else showSignedOut();
}
