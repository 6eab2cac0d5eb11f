-- The compose stack's databases and their roles, run once by PostgreSQL's superuser on the first
-- start of an empty volume (docker/create-databases.sh). Each service connects as its own role,
-- which owns its database (so its migrations can create what they need there) and can connect to
-- no other: a query sent on one service's connection cannot read or change another service's data,
-- Temporal's, or anyone's roles. Temporal has its own role and its two databases likewise.
-- Passwords come from the environment through psql variables (:'name' quotes them as literals),
-- so any character is safe in them and none is written here.
\set ON_ERROR_STOP on

\getenv storefront_password STOREFRONT_DB_PASSWORD
\getenv temporal_password TEMPORAL_DB_PASSWORD
\if :{?storefront_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'STOREFRONT_DB_PASSWORD is not set'; END $$;
\endif
\if :{?temporal_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'TEMPORAL_DB_PASSWORD is not set'; END $$;
\endif

CREATE ROLE storefront_inventory LOGIN PASSWORD :'storefront_password';
CREATE ROLE storefront_orders LOGIN PASSWORD :'storefront_password';
CREATE ROLE storefront_payments LOGIN PASSWORD :'storefront_password';
CREATE ROLE storefront_cart LOGIN PASSWORD :'storefront_password';
CREATE ROLE storefront_quota LOGIN PASSWORD :'storefront_password';
CREATE ROLE storefront_notifications LOGIN PASSWORD :'storefront_password';
CREATE ROLE storefront_accounts LOGIN PASSWORD :'storefront_password';
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';

CREATE DATABASE storefront_inventory OWNER storefront_inventory;
CREATE DATABASE storefront_orders OWNER storefront_orders;
CREATE DATABASE storefront_payments OWNER storefront_payments;
CREATE DATABASE storefront_cart OWNER storefront_cart;
CREATE DATABASE storefront_quota OWNER storefront_quota;
CREATE DATABASE storefront_notifications OWNER storefront_notifications;
CREATE DATABASE storefront_accounts OWNER storefront_accounts;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

-- Every role may connect to every database unless PUBLIC loses that right; an owner keeps its own.
REVOKE ALL ON DATABASE storefront_inventory, storefront_orders, storefront_payments, storefront_cart,
  storefront_quota, storefront_notifications, storefront_accounts, temporal, temporal_visibility,
  postgres, template1 FROM PUBLIC;
