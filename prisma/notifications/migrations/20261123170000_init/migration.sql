-- CreateEnum
CREATE TYPE "notification_kind" AS ENUM ('NOTIFICATION', 'ORDER');

-- CreateTable
CREATE TABLE "notifications" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "kind" "notification_kind" NOT NULL DEFAULT 'NOTIFICATION',
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "read_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_sequences" (
    "user_id" TEXT NOT NULL,
    "last_sequence" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "user_sequences_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "notifications_user_id_dedupe_key_key" ON "notifications"("user_id", "dedupe_key");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_user_id_sequence_key" ON "notifications"("user_id", "sequence");

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_sequence_check" CHECK ("sequence" > 0);

-- AddCheckConstraint
ALTER TABLE "user_sequences" ADD CONSTRAINT "user_sequences_last_sequence_check" CHECK ("last_sequence" >= 0);
