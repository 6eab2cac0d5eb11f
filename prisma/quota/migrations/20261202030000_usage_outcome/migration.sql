-- A usage event keeps its first outcome, so a replay of its key answers exactly what the first
-- call answered; notified_at says its crossings reached the user's notification workflow, so a
-- replay signals only when the first call stopped before it could.
-- AlterTable
ALTER TABLE "usage_events" ADD COLUMN "outcome" JSONB,
ADD COLUMN "notified_at" TIMESTAMPTZ(3);
