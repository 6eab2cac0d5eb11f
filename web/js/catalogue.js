// Products: the catalogue a page at a time (more on demand), searched by name or SKU, as cards with price, stock, how
// many are in the cart and an "Add to cart" button.
import { setCartQuantity } from './cart.js';
import { $, h } from './dom.js';
import { money } from './format.js';
import { state } from './state.js';
import { toastError } from './toasts.js';

/** Cards per page: a few rows of the grid, whatever the catalogue's size. */
const PAGE_SIZE = 24;
/** Typing waits this long before searching, so a word is one request rather than one per letter. */
const SEARCH_DELAY_MS = 250;

/** Bumped by every new search: an answer to an older one arrives too late to be drawn. */
let generation = 0;

function searchText() {
  return $('product-search').value.trim();
}

/** The first page of the catalogue for the search typed (again: after an order, the stock numbers change). */
export async function loadProducts() {
  await loadPage({ fromStart: true });
}

async function loadPage({ fromStart }) {
  const asked = fromStart ? ++generation : generation;
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const q = searchText();
  if (q) query.set('q', q);
  if ($('product-in-stock').checked) query.set('available', 'true');
  if (!fromStart && state.productsCursor) query.set('cursor', state.productsCursor);
  const page = await state.api.products(query);
  if (asked !== generation) return;
  for (const product of page.items) state.productsById.set(product.id, product);
  state.products = fromStart ? page.items : [...state.products, ...page.items];
  state.productsCursor = page.nextCursor;
  renderProducts();
}

async function loadMore() {
  const button = $('products-more');
  button.disabled = true;
  try {
    await loadPage({ fromStart: false });
  } catch (error) {
    toastError(error, 'More products could not be loaded');
  } finally {
    button.disabled = false;
  }
}

export function wireCatalogue() {
  let timer;
  const search = () => loadProducts().catch((error) => toastError(error, 'The search failed'));
  $('product-search').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, SEARCH_DELAY_MS);
  });
  $('product-in-stock').addEventListener('change', search);
  $('products-more').addEventListener('click', loadMore);
}

function artColor(sku) {
  let hash = 0;
  for (const char of sku) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 55%)`;
}

export function renderProducts() {
  const shown = state.products.length;
  const searching = searchText() !== '';
  $('products-note').textContent =
    shown === 0 ? '' : `${shown}${state.productsCursor ? '+' : ''} ${searching ? 'found' : 'products'}`;
  $('products-empty').hidden = shown > 0;
  $('products-empty').textContent = searching ? `Nothing matches “${searchText()}”.` : 'No products yet.';
  $('products-more').hidden = !state.productsCursor;
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
