-- The seven service databases on the compose stack's PostgreSQL (run once, at first start).
CREATE DATABASE storefront_inventory;
CREATE DATABASE storefront_orders;
CREATE DATABASE storefront_payments;
CREATE DATABASE storefront_cart;
CREATE DATABASE storefront_quota;
CREATE DATABASE storefront_notifications;
CREATE DATABASE storefront_accounts;
