-- Every API instance caches the catalogue (api/catalogue-cache.ts) and drops its copy when this
-- channel speaks. A trigger rather than a pg_notify in the service's code, so that every writer
-- of the products table (the service, the seed, an operator's psql) is heard. Statement-level and
-- with an empty payload: PostgreSQL folds identical notifications of one transaction into one,
-- and delivers them only at commit, so a listener never reloads before the change is visible.
-- Only the columns the catalogue shows: a sale (reserved → sold) changes nothing a customer sees.

-- CreateFunction
CREATE FUNCTION "announce_catalogue_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('storefront_catalogue', '');
  RETURN NULL;
END
$$;

-- CreateTrigger
CREATE TRIGGER "products_catalogue_changed"
  AFTER INSERT OR DELETE OR UPDATE OF "sku", "name", "price_cents", "currency", "available", "version" ON "products"
  FOR EACH STATEMENT EXECUTE FUNCTION "announce_catalogue_change"();

CREATE TRIGGER "products_catalogue_truncated"
  AFTER TRUNCATE ON "products"
  FOR EACH STATEMENT EXECUTE FUNCTION "announce_catalogue_change"();
