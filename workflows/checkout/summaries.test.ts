import { describeLines, formatMoney, needsAttentionDetails, stepSummaries } from './summaries';

const line = (sku: string, quantity: number) => ({
  productId: `id-${sku}`,
  sku,
  name: sku,
  quantity,
  unitPriceCents: 1_250,
});

describe('step summaries', () => {
  it('say what each step does in words', () => {
    expect(stepSummaries.reserveStock([line('SKU-123', 2)])).toBe('Reserve 2 × SKU-123');
    expect(stepSummaries.chargePayment(2_500, 'usd', 2)).toBe('Charge 25.00 USD (attempt 2)');
    expect(stepSummaries.releaseStock('o-1')).toBe('Release the stock of order o-1');
    expect(stepSummaries.createOrder('o-1', [line('A', 1), line('B', 2)], 3_750, 'eur')).toBe(
      'Record order o-1: 3 items, 37.50 EUR',
    );
    expect(stepSummaries.clearCart('alice', [line('A', 1)])).toBe("Remove the 1 item ordered from alice's cart");
    expect(stepSummaries.expiryTimer(900)).toBe('Expire the order unless paid within 15 min');
    expect(stepSummaries.expiryTimer(3_600)).toBe('Expire the order unless paid within 1 h');
    expect(stepSummaries.expiryTimer(90)).toBe('Expire the order unless paid within 90 s');
  });

  it('stay one short line for a long order', () => {
    const lines = Array.from({ length: 30 }, (_, i) => line(`SKU-${i}`, i + 1));
    expect(describeLines(lines)).toBe('1 × SKU-0, 2 × SKU-1, 3 × SKU-2, 4 × SKU-3 and 26 more');
    expect(stepSummaries.reserveStock(lines).length).toBeLessThan(100);
  });

  it('format cents as money', () => {
    expect(formatMoney(5, 'usd')).toBe('0.05 USD');
    expect(formatMoney(123_456, 'eur')).toBe('1234.56 EUR');
  });

  it('tell the operator how to get an order out of NEEDS_ATTENTION', () => {
    const details = needsAttentionDetails('o-1', 'stockReserved', 'undo', 'inventory database is read-only');
    expect(details).toContain('undoing stockReserved failed: inventory database is read-only');
    expect(details).toContain('{"action":"retry"}');
    expect(details).toContain('npm run ops -- retry|resolve o-1');
  });

  it('name a forward step that failed as one to finish, never to undo', () => {
    const details = needsAttentionDetails('o-1', 'cartCleared', 'forward', 'cart database is read-only');
    expect(details).toContain('finishing cartCleared failed: cart database is read-only');
    expect(details).not.toContain('undo');
  });
});
