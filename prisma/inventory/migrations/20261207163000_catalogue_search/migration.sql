-- The catalogue's search, GET /v1/products?q=: name or SKU ILIKE '%q%', answered by trigram
-- indexes rather than by reading every product. pg_trgm ships with PostgreSQL (contrib) and is a
-- trusted extension: a database owner may create it without being a superuser.

-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "pg_trgm";

-- CreateIndex
CREATE INDEX "products_name_idx" ON "products" USING GIN ("name" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "products_sku_idx" ON "products" USING GIN ("sku" gin_trgm_ops);
