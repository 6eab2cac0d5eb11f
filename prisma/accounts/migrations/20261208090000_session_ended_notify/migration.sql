-- An open notification stream ends with its session (services/accounts/session-watch.ts): every
-- API instance holding a stream of a session hears here that the session was revoked (signed out)
-- or deleted (with its user), and closes the stream. A trigger rather than a pg_notify in the
-- service's code, so that every writer of the sessions table (the service, an operator's psql) is
-- heard. Row-level, with the session's id as payload; PostgreSQL delivers it only at commit, so a
-- listener that re-reads the session sees it ended. Expiry sends nothing: no row changes when a
-- session expires, and the streams' periodic re-check ends those.

-- CreateFunction
CREATE FUNCTION "announce_session_ended"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('storefront_session_ended', OLD."id"::text);
  RETURN NULL;
END
$$;

-- CreateTrigger
CREATE TRIGGER "sessions_revoked"
  AFTER UPDATE OF "revoked_at" ON "sessions"
  FOR EACH ROW WHEN (OLD."revoked_at" IS NULL AND NEW."revoked_at" IS NOT NULL)
  EXECUTE FUNCTION "announce_session_ended"();

CREATE TRIGGER "sessions_deleted"
  AFTER DELETE ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION "announce_session_ended"();
