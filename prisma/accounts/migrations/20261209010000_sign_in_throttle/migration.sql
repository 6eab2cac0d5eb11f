-- Sign-in throttling that slows a guesser, not the owner (services/accounts/sign-in-throttle.ts):
-- the addresses each user signed in from are exempt from the account's growing delay.

-- CreateTable
CREATE TABLE "known_sign_in_addresses" (
    "user_id" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "last_signed_in_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "known_sign_in_addresses_pkey" PRIMARY KEY ("user_id","address")
);

-- AddForeignKey
ALTER TABLE "known_sign_in_addresses" ADD CONSTRAINT "known_sign_in_addresses_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
