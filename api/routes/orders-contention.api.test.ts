/** The last units under contention: 40 buyers at once through the API for 10 units. */
import { startApiHarness, TEST_SETTINGS, type ApiHarness } from '../../test/helpers/api';

jest.setTimeout(300_000);

const BUYERS = 40;
const UNITS = 10;

let api: ApiHarness;
beforeAll(async () => {
  // Dozens of sagas at once on a 2-core machine can take longer than the API's 10 s deadline; this
  // test is about who gets the stock, not how fast (the benchmarks measure that). The orders must
  // also outlive the race: an early winner expiring mid-race would hand its unit to a later buyer.
  api = await startApiHarness({
    temporalDeadlineMs: 240_000,
    app: { settings: { ...TEST_SETTINGS, orderTtlSeconds: 3_600 } },
  });
});
afterAll(async () => api?.close());

it(`${BUYERS} concurrent orders for the last ${UNITS} units: ${UNITS} await payment, the rest are OUT_OF_STOCK and hold nothing`, async () => {
  const product = await api.services.inventory.createProduct({
    sku: 'LAST-10',
    name: 'Limited print',
    priceCents: 9_900,
    available: UNITS,
  });

  const responses = await Promise.all(
    Array.from({ length: BUYERS }, (_, i) =>
      api.as(`buyer-${i}`, {
        method: 'POST',
        url: '/v1/orders',
        payload: { items: [{ productId: product.id, quantity: 1 }] },
      }),
    ),
  );

  const outcomes = responses.map((r) =>
    r.statusCode === 201 ? r.json().status : `${r.statusCode} ${r.json().error.code}`,
  );
  expect(outcomes.filter((o) => o === 'AWAITING_PAYMENT')).toHaveLength(UNITS);
  expect(outcomes.filter((o) => o === '409 OUT_OF_STOCK')).toHaveLength(BUYERS - UNITS);
  expect((await api.services.inventory.getProduct(product.id))!.available).toBe(0);

  // Every winner holds exactly one reserved unit; no loser holds any (their orders are REJECTED).
  const winners = responses.filter((r) => r.statusCode === 201).map((r) => r.json().id as string);
  const reservations = await Promise.all(winners.map((id) => api.services.inventory.findReservation(id)));
  expect(reservations.map((r) => r?.status)).toEqual(Array(UNITS).fill('HELD'));
  expect(reservations.map((r) => r?.lines)).toEqual(
    Array(UNITS).fill([expect.objectContaining({ productId: product.id, quantity: 1 })]),
  );
  const losers = (
    await Promise.all(Array.from({ length: BUYERS }, (_, i) => api.services.orders.listForCustomer(`buyer-${i}`)))
  )
    .flat()
    .filter((order) => !winners.includes(order.id));
  expect(losers).toHaveLength(BUYERS - UNITS);
  expect(losers.map((order) => order.failureCode)).toEqual(Array(BUYERS - UNITS).fill('OUT_OF_STOCK'));
  expect(
    (await Promise.all(losers.map((order) => api.services.inventory.findReservation(order.id)))).filter(
      (r) => r?.status === 'HELD',
    ),
  ).toEqual([]);
});
