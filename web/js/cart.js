// The cart: its items with steppers, the total and the "Check out" button's footer.
import { $, h } from './dom.js';
import { money } from './format.js';
import { state } from './state.js';
import { toastError } from './toasts.js';

/** What else shows the cart's numbers (the product cards' "in cart"), redrawn with the cart. */
let afterCartRendered = () => undefined;

export function onCartRendered(render) {
  afterCartRendered = render;
}

export async function loadCart() {
  state.cart = await state.api.cart();
  renderCart();
}

export async function setCartQuantity(productId, quantity) {
  try {
    state.cart = await state.api.setCartItem(productId, quantity);
    renderCart();
  } catch (error) {
    toastError(error, 'The cart was not updated');
  }
}

/**
 * The cart may hold products on catalogue pages not loaded (or not matching the search typed): their names are
 * read one by one, once, and the cart drawn again.
 */
const naming = new Set();
function nameUnknownProducts(items) {
  const unknown = items.filter((item) => !state.productsById.has(item.productId) && !naming.has(item.productId));
  for (const { productId } of unknown) {
    naming.add(productId);
    state.api
      .product(productId)
      .then((product) => {
        state.productsById.set(product.id, product);
        renderCart();
      })
      .catch(() => undefined)
      .finally(() => naming.delete(productId));
  }
}

function renderCart() {
  const items = state.cart.items;
  nameUnknownProducts(items);
  const units = items.reduce((sum, item) => sum + item.quantity, 0);
  $('cart-count').textContent = units ? `${units} item${units === 1 ? '' : 's'}` : '';
  $('cart-empty').hidden = items.length > 0;
  $('cart-foot').hidden = items.length === 0;
  $('cart-total').textContent = money(state.cart.totalCents, state.cart.currency);
  $('cart').replaceChildren(
    ...items.map((item) => {
      const product = state.productsById.get(item.productId);
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
  afterCartRendered();
}
