// The storefront dashboard: sign up or in (or as a demo customer on the local stack), see the plan's usage, shop,
// check out and pay, follow orders (each on its own page) and notifications live, and for admins refund orders. Plain browser modules, no build step; this one wires
// the views together, each view's module loads, renders and handles its own part of the page.
import { wireAdmin } from './admin.js';
import { onCartRendered } from './cart.js';
import { renderProducts, wireCatalogue } from './catalogue.js';
import { wireNotifications } from './notifications.js';
import { wireOrderPage } from './order-page.js';
import { keepCountdownsMoving, wireOrders } from './orders.js';
import { resumeSession, wireAccountForms, wireSignIn } from './session.js';
import { keepQuotaFresh, wireUsage } from './usage.js';

// The product cards show how many of each are in the cart.
onCartRendered(renderProducts);
keepQuotaFresh();
keepCountdownsMoving();

document.addEventListener('DOMContentLoaded', () => {
  wireSignIn();
  wireAccountForms();
  wireUsage();
  wireCatalogue();
  wireOrders();
  wireOrderPage();
  wireAdmin();
  wireNotifications();
  resumeSession();
});
