/**
 * The paging every list route shares (lib/paging.ts): the `limit` and `cursor` of its query and
 * the `{items, nextCursor}` it answers, one schema so the OpenAPI document states the bounds once
 * for every list.
 */
import { Type, type TSchema } from 'typebox';
import { CURSOR_PATTERN, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../lib/paging';

/** The query fields of a paged list, to spread into its querystring schema. */
export const PageQueryFields = {
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PAGE_LIMIT,
      description: `Items per page, at most ${MAX_PAGE_LIMIT} (default ${DEFAULT_PAGE_LIMIT})`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      pattern: CURSOR_PATTERN,
      description: "The previous page's `nextCursor`; without one, the first page",
    }),
  ),
};

export const NextCursor = Type.Union([Type.String(), Type.Null()], {
  description: 'The `cursor` of the next page; null on the last page',
});

/** A page of `item`: the answer of every list route, besides any fields of the list's own. */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: NextCursor });
}
