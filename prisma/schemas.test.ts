/** The rules each service's migration puts into its database, checked on real PostgreSQL. */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { SERVICES, type ServiceName } from '../lib/service-names';
import { createTestDatabases, type TestDatabases } from '../test/helpers/databases';

let databases: TestDatabases;
const clients = {} as Record<ServiceName, Client>;

beforeAll(async () => {
  const started = Date.now();
  databases = await createTestDatabases();
  if (process.env.STOREFRONT_TEST_VERBOSE === 'true') {
    console.log(`seven test databases from templates in ${Date.now() - started} ms`);
  }
  for (const service of SERVICES) {
    clients[service] = new Client({ connectionString: databases.urls[service] });
    await clients[service].connect();
  }
});

afterAll(async () => {
  for (const service of SERVICES) await clients[service]?.end();
  await databases?.dispose();
});

const CHECK_VIOLATION = '23514';
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

async function expectViolation(statement: Promise<unknown>, code: string, constraint: string): Promise<void> {
  await expect(statement).rejects.toMatchObject({ code, constraint });
}

describe('inventory', () => {
  const db = () => clients.inventory;

  async function product(available = 3): Promise<string> {
    const id = randomUUID();
    await db().query(
      `INSERT INTO products (id, sku, name, price_cents, available, updated_at) VALUES ($1, $2, 'Mug', 1200, $3, now())`,
      [id, `SKU-${id}`, available],
    );
    return id;
  }

  async function reservation(orderId = randomUUID()): Promise<string> {
    const id = randomUUID();
    await db().query(`INSERT INTO reservations (id, order_id, updated_at) VALUES ($1, $2, now())`, [id, orderId]);
    return id;
  }

  /** Expects `UPDATE products SET <set>` on the product to be refused by the CHECK constraint `constraint`. */
  const expectRefusedUpdate = (id: string, set: string, constraint: string) =>
    expectViolation(db().query(`UPDATE products SET ${set} WHERE id = $1`, [id]), CHECK_VIOLATION, constraint);

  it('never lets stock go negative', async () => {
    const id = await product(3);
    await expectRefusedUpdate(id, 'available = available - 4, reserved = reserved + 4', 'products_available_check');
    await expectRefusedUpdate(id, 'reserved = -1', 'products_reserved_check');
    await expectRefusedUpdate(id, 'sold = -1', 'products_sold_check');
    const { rows } = await db().query(
      'UPDATE products SET available = available - 3 WHERE id = $1 RETURNING available',
      [id],
    );
    expect(rows[0]).toEqual({ available: 0 });
  });

  it('keeps prices, versions and currencies valid', async () => {
    const id = await product();
    await expectRefusedUpdate(id, 'price_cents = -1', 'products_price_cents_check');
    await expectRefusedUpdate(id, 'price_cents = 100000000', 'products_price_cents_check');
    await expectRefusedUpdate(id, 'version = 0', 'products_version_check');
    await expectRefusedUpdate(id, `currency = 'USD'`, 'products_currency_check');
    await expectRefusedUpdate(id, `currency = 'usdt'`, 'products_currency_check');
    const { rows } = await db().query('SELECT currency, version, reserved, sold FROM products WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ currency: 'usd', version: 1, reserved: 0, sold: 0 });
  });

  it('refuses a duplicate SKU', async () => {
    const id = await product();
    await expectViolation(
      db().query(
        `INSERT INTO products (id, sku, name, price_cents, available, updated_at) VALUES ($1, $2, 'x', 1, 1, now())`,
        [randomUUID(), `SKU-${id}`],
      ),
      UNIQUE_VIOLATION,
      'products_sku_key',
    );
  });

  it('refuses a second reservation for the same order', async () => {
    const orderId = randomUUID();
    await reservation(orderId);
    await expectViolation(reservation(orderId), UNIQUE_VIOLATION, 'reservations_order_id_key');
  });

  it('holds reservation lines to positive quantities of existing products', async () => {
    const productId = await product();
    const reservationId = await reservation();
    const line = (quantity: number, product = productId) =>
      db().query('INSERT INTO reservation_lines (reservation_id, product_id, quantity) VALUES ($1, $2, $3)', [
        reservationId,
        product,
        quantity,
      ]);
    await expectViolation(line(0), CHECK_VIOLATION, 'reservation_lines_quantity_check');
    await expectViolation(line(1, randomUUID()), FOREIGN_KEY_VIOLATION, 'reservation_lines_product_id_fkey');
    await line(2);
    await expectViolation(line(1), UNIQUE_VIOLATION, 'reservation_lines_pkey');
    // A product with reservations cannot vanish; a reservation takes its lines with it.
    await expectViolation(
      db().query('DELETE FROM products WHERE id = $1', [productId]),
      FOREIGN_KEY_VIOLATION,
      'reservation_lines_product_id_fkey',
    );
    await db().query('DELETE FROM reservations WHERE id = $1', [reservationId]);
    const { rows } = await db().query('SELECT count(*)::int AS n FROM reservation_lines WHERE reservation_id = $1', [
      reservationId,
    ]);
    expect(rows[0]).toEqual({ n: 0 });
  });
});

describe('orders', () => {
  const db = () => clients.orders;

  async function order(customerId: string, idempotencyKey: string | null, totalCents = 1000): Promise<string> {
    const id = randomUUID();
    await db().query(
      `INSERT INTO orders (id, customer_id, total_cents, idempotency_key, updated_at) VALUES ($1, $2, $3, $4, now())`,
      [id, customerId, totalCents, idempotencyKey],
    );
    return id;
  }

  it('makes an idempotency key unique per customer', async () => {
    await order('dave', 'key-1');
    await expectViolation(order('dave', 'key-1'), UNIQUE_VIOLATION, 'orders_customer_id_idempotency_key_key');
    await order('erin', 'key-1');
    // Orders without a key do not collide.
    await order('dave', null);
    await order('dave', null);
  });

  it('starts orders PENDING and keeps amounts valid', async () => {
    const id = await order('frank', null);
    const { rows } = await db().query('SELECT status, currency FROM orders WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ status: 'PENDING', currency: 'usd' });
    // A negative total breaks the refunded-amount bound too (0 refunded > -1); either names the row's fault.
    await expect(order('frank', null, -1)).rejects.toMatchObject({
      code: CHECK_VIOLATION,
      constraint: expect.stringMatching(/^orders_(total|refunded)_cents_check$/),
    });
    await expectViolation(order('frank', null, 100_000_000), CHECK_VIOLATION, 'orders_total_cents_check');
    // Never more refunded than the order's total.
    await expectViolation(
      db().query('UPDATE orders SET refunded_cents = total_cents + 1 WHERE id = $1', [id]),
      CHECK_VIOLATION,
      'orders_refunded_cents_check',
    );
    await expectViolation(
      db().query(`UPDATE orders SET currency = 'EUR' WHERE id = $1`, [id]),
      CHECK_VIOLATION,
      'orders_currency_check',
    );
    await expect(db().query(`UPDATE orders SET status = 'SHIPPED' WHERE id = $1`, [id])).rejects.toMatchObject({
      code: '22P02',
    });
  });

  it('keeps line quantities positive and prices non-negative, and deletes lines and history with the order', async () => {
    const id = await order('gina', null);
    const line = (quantity: number, unitPriceCents: number) =>
      db().query(
        `INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents) VALUES ($1, $2, 'S', 'N', $3, $4)`,
        [id, randomUUID(), quantity, unitPriceCents],
      );
    await expectViolation(line(0, 100), CHECK_VIOLATION, 'order_lines_quantity_check');
    await expectViolation(line(1, -1), CHECK_VIOLATION, 'order_lines_unit_price_cents_check');
    await line(1, 0);
    await db().query(`INSERT INTO order_status_changes (order_id, to_status) VALUES ($1, 'PENDING')`, [id]);
    await db().query('DELETE FROM orders WHERE id = $1', [id]);
    const { rows } = await db().query(
      `SELECT (SELECT count(*) FROM order_lines WHERE order_id = $1)::int AS lines,
              (SELECT count(*) FROM order_status_changes WHERE order_id = $1)::int AS changes`,
      [id],
    );
    expect(rows[0]).toEqual({ lines: 0, changes: 0 });
  });
});

describe('payments', () => {
  const db = () => clients.payments;

  async function payment(orderId = randomUUID(), amountCents = 2500): Promise<string> {
    const id = randomUUID();
    await db().query(
      `INSERT INTO payments (id, order_id, amount_cents, currency, updated_at) VALUES ($1, $2, $3, 'usd', now())`,
      [id, orderId, amountCents],
    );
    return id;
  }

  it('allows one payment per order', async () => {
    const orderId = randomUUID();
    await payment(orderId);
    await expectViolation(payment(orderId), UNIQUE_VIOLATION, 'payments_order_id_key');
  });

  it('refuses non-positive amounts and bad currencies', async () => {
    await expectViolation(payment(randomUUID(), 0), CHECK_VIOLATION, 'payments_amount_cents_check');
    await expectViolation(
      db().query(
        `INSERT INTO payments (id, order_id, amount_cents, currency, updated_at) VALUES ($1, $2, 1, 'Usd', now())`,
        [randomUUID(), randomUUID()],
      ),
      CHECK_VIOLATION,
      'payments_currency_check',
    );
  });

  it('allows one PaymentIntent per payment', async () => {
    const first = await payment();
    const second = await payment();
    await db().query(`UPDATE payments SET stripe_payment_intent_id = 'pi_1' WHERE id = $1`, [first]);
    await expectViolation(
      db().query(`UPDATE payments SET stripe_payment_intent_id = 'pi_1' WHERE id = $1`, [second]),
      UNIQUE_VIOLATION,
      'payments_stripe_payment_intent_id_key',
    );
  });

  it('numbers attempts from 1 and keeps every refund positive, several per payment', async () => {
    const id = await payment();
    const attempt = (n: number) =>
      db().query(`INSERT INTO payment_attempts (payment_id, attempt, payment_method) VALUES ($1, $2, 'pm_card_visa')`, [
        id,
        n,
      ]);
    await expectViolation(attempt(0), CHECK_VIOLATION, 'payment_attempts_attempt_check');
    await attempt(1);
    await expectViolation(attempt(1), UNIQUE_VIOLATION, 'payment_attempts_pkey');

    const refund = (amountCents: number) =>
      db().query(`INSERT INTO refunds (id, payment_id, amount_cents) VALUES ($1, $2, $3)`, [
        randomUUID(),
        id,
        amountCents,
      ]);
    await expectViolation(refund(0), CHECK_VIOLATION, 'refunds_amount_cents_check');
    // Refunds after the sale come one after another; the payments service keeps their sum within the payment.
    await refund(1000);
    await refund(1500);
    const { rows } = await db().query('SELECT count(*)::int AS n FROM refunds WHERE payment_id = $1', [id]);
    expect(rows[0]).toEqual({ n: 2 });
  });

  it('stores a webhook event once', async () => {
    const insert = () =>
      db().query(`INSERT INTO webhook_events (id, type, payload) VALUES ('evt_1', 'payment_intent.succeeded', '{}')`);
    await insert();
    await expectViolation(insert(), UNIQUE_VIOLATION, 'webhook_events_pkey');
  });
});

describe('cart', () => {
  const db = () => clients.cart;
  const item = (quantity: number, priceCents: number, currency = 'usd') =>
    db().query(
      `INSERT INTO cart_items (user_id, product_id, quantity, price_cents, currency, updated_at) VALUES ('hank', $1, $2, $3, $4, now())`,
      [randomUUID(), quantity, priceCents, currency],
    );

  it('keeps quantities positive, prices non-negative and currencies lowercase', async () => {
    await expectViolation(item(0, 100), CHECK_VIOLATION, 'cart_items_quantity_check');
    await expectViolation(item(1, -1), CHECK_VIOLATION, 'cart_items_price_cents_check');
    await expectViolation(item(1, 100, 'US'), CHECK_VIOLATION, 'cart_items_currency_check');
    await item(1, 0);
  });

  it('records a clearing once per order', async () => {
    const orderId = randomUUID();
    const clear = () => db().query(`INSERT INTO cart_clearings (order_id, user_id) VALUES ($1, 'hank')`, [orderId]);
    await clear();
    await expectViolation(clear(), UNIQUE_VIOLATION, 'cart_clearings_pkey');
  });
});

describe('quota', () => {
  const db = () => clients.quota;

  it('has the plans seeded by the migration', async () => {
    const { rows } = await db().query(
      `SELECT p.id, l.resource, l.limit_per_period, l.enforcement::text AS enforcement
         FROM plans p JOIN plan_limits l ON l.plan_id = p.id ORDER BY p.id, l.resource`,
    );
    expect(rows).toEqual([
      { id: 'free', resource: 'builds', limit_per_period: 100, enforcement: 'SOFT' },
      { id: 'free', resource: 'orders', limit_per_period: 20, enforcement: 'HARD' },
      { id: 'pro', resource: 'builds', limit_per_period: 1000, enforcement: 'SOFT' },
      { id: 'pro', resource: 'orders', limit_per_period: 500, enforcement: 'HARD' },
    ]);
  });

  it('counts a usage event key once per user', async () => {
    const event = (userId: string) =>
      db().query(
        `INSERT INTO usage_events (user_id, idempotency_key, resource, period, quantity) VALUES ($1, 'build-42', 'builds', '2026-11', 1)`,
        [userId],
      );
    await event('ivan');
    await expectViolation(event('ivan'), UNIQUE_VIOLATION, 'usage_events_pkey');
    await event('judy');
  });

  it('keeps usage, quantities, limits and thresholds valid', async () => {
    await expectViolation(
      db().query(`INSERT INTO usage (user_id, resource, period, used) VALUES ('ivan', 'builds', '2026-11', -1)`),
      CHECK_VIOLATION,
      'usage_used_check',
    );
    await expectViolation(
      db().query(
        `INSERT INTO usage_events (user_id, idempotency_key, resource, period, quantity) VALUES ('ivan', 'k0', 'builds', '2026-11', 0)`,
      ),
      CHECK_VIOLATION,
      'usage_events_quantity_check',
    );
    await expectViolation(
      db().query(`UPDATE plan_limits SET limit_per_period = -1 WHERE plan_id = 'free' AND resource = 'builds'`),
      CHECK_VIOLATION,
      'plan_limits_limit_per_period_check',
    );
    const crossing = (threshold: number) =>
      db().query(
        `INSERT INTO threshold_crossings (user_id, resource, period, threshold) VALUES ('ivan', 'builds', '2026-11', $1)`,
        [threshold],
      );
    await expectViolation(crossing(50), CHECK_VIOLATION, 'threshold_crossings_threshold_check');
    await crossing(80);
    await crossing(100);
    await expectViolation(crossing(100), UNIQUE_VIOLATION, 'threshold_crossings_pkey');
  });

  it('subscribes users only to existing plans, and keeps a plan that has subscribers', async () => {
    await expectViolation(
      db().query(`INSERT INTO subscriptions (user_id, plan_id) VALUES ('kim', 'platinum')`),
      FOREIGN_KEY_VIOLATION,
      'subscriptions_plan_id_fkey',
    );
    await db().query(`INSERT INTO subscriptions (user_id, plan_id) VALUES ('kim', 'pro')`);
    await expectViolation(
      db().query(`DELETE FROM plans WHERE id = 'pro'`),
      FOREIGN_KEY_VIOLATION,
      'subscriptions_plan_id_fkey',
    );
  });
});

describe('notifications', () => {
  const db = () => clients.notifications;
  const notify = (userId: string, sequence: number, dedupeKey: string) =>
    db().query(
      `INSERT INTO notifications (id, user_id, sequence, type, payload, dedupe_key) VALUES ($1, $2, $3, 'quota.warning', '{}', $4)`,
      [randomUUID(), userId, sequence, dedupeKey],
    );

  it('keeps one notification per dedupe key and user', async () => {
    await notify('liam', 1, 'quota:builds:2026-11:80');
    await expectViolation(
      notify('liam', 2, 'quota:builds:2026-11:80'),
      UNIQUE_VIOLATION,
      'notifications_user_id_dedupe_key_key',
    );
    await notify('mona', 1, 'quota:builds:2026-11:80');
  });

  it('keeps sequences positive and unique per user', async () => {
    await expectViolation(notify('nora', 0, 'a'), CHECK_VIOLATION, 'notifications_sequence_check');
    await notify('nora', 1, 'b');
    await expectViolation(notify('nora', 1, 'c'), UNIQUE_VIOLATION, 'notifications_user_id_sequence_key');
    const { rows } = await db().query(`SELECT kind::text AS kind FROM notifications WHERE user_id = 'nora'`);
    expect(rows).toEqual([{ kind: 'NOTIFICATION' }]);
  });

  it('never lets a user sequence go negative', async () => {
    await db().query(`INSERT INTO user_sequences (user_id) VALUES ('olga')`);
    await expectViolation(
      db().query(`UPDATE user_sequences SET last_sequence = -1 WHERE user_id = 'olga'`),
      CHECK_VIOLATION,
      'user_sequences_last_sequence_check',
    );
  });
});

describe('accounts', () => {
  const db = () => clients.accounts;
  const user = (id: string, emailKey: string) =>
    db().query(`INSERT INTO users (id, email, email_key, password_hash) VALUES ($1, $2, $2, '$argon2id$x')`, [
      id,
      emailKey,
    ]);

  it('keeps one account per lowercased email, and only lowercased keys', async () => {
    await user('u-1', 'pia@example.com');
    await expectViolation(user('u-2', 'pia@example.com'), UNIQUE_VIOLATION, 'users_email_key_key');
    await expectViolation(user('u-3', 'Pia@example.com'), CHECK_VIOLATION, 'users_email_key_check');
    const { rows } = await db().query(`SELECT role::text AS role, plan FROM users WHERE id = 'u-1'`);
    expect(rows).toEqual([{ role: 'user', plan: 'free' }]);
  });

  it('takes only the user ids docs/design.md names', async () => {
    await expectViolation(user('a b', 'ab@example.com'), CHECK_VIOLATION, 'users_id_check');
  });

  it('gives every session a user, and ends them with it', async () => {
    const session = (userId: string) =>
      db().query(`INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')`, [
        randomUUID(),
        userId,
      ]);
    await expectViolation(session('nobody'), FOREIGN_KEY_VIOLATION, 'sessions_user_id_fkey');
    await user('u-4', 'quinn@example.com');
    await session('u-4');
    await db().query(`DELETE FROM users WHERE id = 'u-4'`);
    expect((await db().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'u-4'`)).rows).toEqual([
      { n: 0 },
    ]);
  });
});
