/** Text PostgreSQL can store: the one rule for every string the API or a workflow's message takes in. Pure, so the workflow bundle may use it. */
/**
 * Text PostgreSQL can store: no NUL (U+0000, which it refuses in text and varchar with SQLSTATE 22021)
 * and no lone surrogate (U+D800–U+DFFF without its pair: no UTF-8 form, so a driver would store
 * U+FFFD instead). Astral characters (a surrogate pair, e.g. an emoji) are fine. Written to mean the
 * same with and without the regex `u` flag: ajv compiles patterns with it, a client's validator
 * may not. docs/hostile-input.md says why every string the API (and the checkout's updates and signals) accepts is held to it.
 */
export const STORABLE_TEXT_PATTERN = '^(?:[^\\u0000\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff])*$';
const STORABLE_TEXT = new RegExp(STORABLE_TEXT_PATTERN, 'u');

export function isStorableText(text: string): boolean {
  return STORABLE_TEXT.test(text);
}

/** A string of storable text within the given length (in UTF-16 units, as the API's schemas count them). */
export function isTextWithin(value: unknown, min: number, max: number): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max && isStorableText(value);
}
