// Products: the catalogue's cards with price, stock, how many are in the cart and an "Add to cart" button.
import { setCartQuantity } from './cart.js';
import { $, h } from './dom.js';
import { money } from './format.js';
import { state } from './state.js';

export async function loadProducts() {
  state.products = (await state.api.products()).items;
  renderProducts();
}

function artColor(sku) {
  let hash = 0;
  for (const char of sku) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 55%)`;
}

export function renderProducts() {
  $('products-note').textContent = `${state.products.length} products`;
  const inCart = new Map(state.cart.items.map((item) => [item.productId, item.quantity]));
  const cards = state.products.map((product) => {
    const art = h(
      'div',
      { class: 'product-art', 'aria-hidden': 'true' },
      product.name
        .split(/\s+/)
        .slice(0, 2)
        .map((word) => word[0].toUpperCase())
        .join(''),
    );
    art.style.background = `linear-gradient(135deg, ${artColor(product.sku)}, ${artColor(product.sku + '!')})`;
    const stockClass = product.available === 0 ? 'stock out' : product.available <= 5 ? 'stock low' : 'stock';
    const stockText =
      product.available === 0
        ? 'Sold out'
        : product.available <= 5
          ? `Only ${product.available} left`
          : `${product.available} in stock`;
    const quantity = inCart.get(product.id) ?? 0;
    if (quantity > 0) art.append(h('span', { class: 'in-cart' }, `${quantity} in cart`));
    return h(
      'article',
      { class: 'product', dataset: { sku: product.sku } },
      art,
      h('div', { class: 'product-name' }, product.name),
      h(
        'div',
        { class: 'product-meta' },
        h('span', { class: 'price' }, money(product.priceCents, product.currency)),
        h('span', { class: stockClass }, stockText),
      ),
      h(
        'button',
        {
          class: 'button button-secondary button-small',
          type: 'button',
          disabled: product.available <= quantity,
          onclick: () => setCartQuantity(product.id, quantity + 1),
        },
        quantity > 0 ? 'Add another' : 'Add to cart',
      ),
    );
  });
  $('products').replaceChildren(...cards);
}
