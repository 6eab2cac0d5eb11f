-- CreateEnum
CREATE TYPE "role" AS ENUM ('user', 'admin');

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "email_key" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" "role" NOT NULL DEFAULT 'user',
    "plan" TEXT NOT NULL DEFAULT 'free',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sign_in_failures" (
    "id" UUID NOT NULL,
    "email_key" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "failed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sign_in_failures_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key_key" ON "users"("email_key");

-- CreateIndex
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- CreateIndex
CREATE INDEX "sign_in_failures_email_key_failed_at_idx" ON "sign_in_failures"("email_key", "failed_at");

-- CreateIndex
CREATE INDEX "sign_in_failures_address_failed_at_idx" ON "sign_in_failures"("address", "failed_at");

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint: the key is the lowercased address, so uniqueness is case-insensitive.
ALTER TABLE "users" ADD CONSTRAINT "users_email_key_check" CHECK ("email_key" = lower("email_key"));

-- AddCheckConstraint: user ids follow DESIGN.md (1 to 64 of [A-Za-z0-9_-]).
ALTER TABLE "users" ADD CONSTRAINT "users_id_check" CHECK ("id" ~ '^[A-Za-z0-9_-]{1,64}$');
