/**
 * Interactive-transaction limits for writes that queue on one hot row lock: every order of one
 * product waits for the product's row, every use of one user's resource for the usage row. A burst
 * (50 orders of one product at once) holds pooled connections while it waits, so Prisma's defaults
 * (2 s to get a connection, 5 s to finish) would fail the tail of the queue with a transient
 * P2028 instead of letting it run; these are generous and still far inside an activity's timeout.
 */
export const ROW_LOCK_QUEUE_TRANSACTION = { maxWait: 10_000, timeout: 15_000 } as const;

/**
 * A transaction that writes hundreds of rows at once (the services' batch functions, for seeding):
 * a few seconds of work on a loaded machine, so it may run a minute before Prisma rolls it back.
 */
export const BULK_TRANSACTION = { maxWait: 10_000, timeout: 60_000 } as const;
