-- An order total is bounded by what Stripe can charge (lib/money.ts MAX_ORDER_CENTS); the API
-- refuses larger orders before any workflow starts, this is the last line of defence.
ALTER TABLE "orders" DROP CONSTRAINT "orders_total_cents_check";
ALTER TABLE "orders" ADD CONSTRAINT "orders_total_cents_check" CHECK ("total_cents" >= 0 AND "total_cents" <= 99999999);
ALTER TABLE "order_lines" DROP CONSTRAINT "order_lines_unit_price_cents_check";
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_unit_price_cents_check" CHECK ("unit_price_cents" >= 0 AND "unit_price_cents" <= 99999999);
