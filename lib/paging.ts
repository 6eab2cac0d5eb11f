/**
 * Cursor paging, one definition for every list the API answers (products, orders, notifications):
 * `limit` (1 to MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT without one) and an opaque `cursor` that is the
 * previous answer's `nextCursor`, null at the end.
 *
 * Lists are keyset-paged: each is ordered by a key that is unique and never changes (a SKU; an
 * order's creation time and id; a notification's sequence), and a cursor is the key of the last
 * row sent. The next page is the rows strictly after it, so rows added or changed meanwhile can
 * never make a page repeat or skip a row that was there: a new row lands before or after the
 * cursor, never under it. An offset would shift with every insert, and gets slower page by page.
 */
import { DomainError } from './errors';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 100;
/** A cursor's longest text: a tag, a timestamp and a UUID, or a 64-character SKU, base64url'd. */
export const MAX_CURSOR_LENGTH = 200;
/** The cursor's alphabet (base64url), for the API's schemas. */
export const CURSOR_PATTERN = `^[A-Za-z0-9_-]{1,${MAX_CURSOR_LENGTH}}$`;

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** The cursor of the next page; null when this page is the last. */
  nextCursor: string | null;
}

/** The limit a request asked for, bounded: a caller never gets more than MAX_PAGE_LIMIT rows at once. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_LIMIT;
  return Math.min(Math.max(Math.trunc(limit), 1), MAX_PAGE_LIMIT);
}

/** A key's parts: strings and integers only, so a cursor round-trips through JSON exactly. */
type KeyPart = string | number;

/**
 * A kind of cursor: its tag (so one list's cursor is refused by another) and how its key's parts
 * are checked on the way back in. A client can forge a cursor; it can only ever point inside the
 * list it is sent to, whose query keeps its own filters (the customer, the user).
 */
export interface CursorCodec<K extends KeyPart[]> {
  encode(key: K): string;
  /** The key, or 400 INVALID_CURSOR for anything no answer of this list gave. */
  decode(cursor: string): K;
}

export function cursorCodec<K extends KeyPart[]>(tag: string, check: (parts: unknown[]) => parts is K): CursorCodec<K> {
  const invalid = () => new DomainError('INVALID_CURSOR', 'The cursor is not one this list gave; start without one');
  return {
    encode: (key) => Buffer.from(JSON.stringify([tag, ...key]), 'utf8').toString('base64url'),
    decode: (cursor) => {
      if (cursor.length > MAX_CURSOR_LENGTH) throw invalid();
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      } catch {
        throw invalid();
      }
      if (!Array.isArray(parsed) || parsed[0] !== tag) throw invalid();
      const parts = parsed.slice(1);
      if (!check(parts)) throw invalid();
      return parts;
    },
  };
}

/**
 * The page from rows read with `limit + 1`: the extra row only says that there is a next page,
 * whose cursor is the key of the last row sent.
 */
export function toPage<R, T, K extends KeyPart[]>(
  rows: R[],
  limit: number,
  codec: CursorCodec<K>,
  keyOf: (row: R) => K,
  view: (row: R) => T,
): Page<T> {
  const sent = rows.slice(0, limit);
  const last = sent[sent.length - 1];
  return {
    items: sent.map(view),
    nextCursor: rows.length > limit && last !== undefined ? codec.encode(keyOf(last)) : null,
  };
}
