/**
 * fast-check arbitraries drawn from a route's own JSON Schemas (the TypeBox schemas, as the OpenAPI
 * document carries them): `valid` follows the schema, `hostile` breaks it the ways an attacker
 * would — wrong types, huge, negative and fractional numbers, long strings, odd unicode, extra
 * fields, missing required ones — and `validWithText` keeps all valid but one string field, which
 * holds text PostgreSQL cannot store (`unstorableText`).
 */
import fc from 'fast-check';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  not?: JsonSchema;
  default?: unknown;
}

/** Values that tend to break parsers, databases and arithmetic. */
const NASTY_NUMBERS = [
  1e20,
  -1e20,
  2_147_483_648,
  -2_147_483_649,
  Number.MAX_SAFE_INTEGER,
  1e308,
  -0,
  0.5,
  -1,
  0,
  99_999_999,
  100_000_000,
];
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'urn:uuid:00000000-0000-4000-8000-000000000000',
  '{00000000-0000-4000-8000-000000000000}',
  '00000000000040008000000000000000',
  "'; DROP TABLE orders; --",
  '../../etc/passwd',
  '\u202e\u0301\ud83d\ude00',
  '\ud800',
  'NaN',
  '1e20',
  'x'.repeat(5_000),
  '%00',
];

export function valid(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map((s) => valid(s, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = schema.minimum ?? -1_000;
      const max = schema.maximum ?? Math.max(min + 1_000, 1_000);
      const excluded = schema.not?.const;
      // Bounds are where off-by-one bugs live: draw them often.
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max)).filter((n) => n !== excluded);
    }
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'string':
      return validString(schema);
    case 'array': {
      const items = schema.items ? valid(schema.items, depth + 1) : fc.anything();
      return fc.array(items, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) });
    }
    case 'object':
    default: {
      const properties = schema.properties ?? {};
      const shape = Object.fromEntries(Object.entries(properties).map(([key, s]) => [key, valid(s, depth + 1)]));
      return fc.record(shape, { requiredKeys: schema.required ?? [] });
    }
  }
}

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? 40, 300);
  if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.pattern) {
    // Lengths in code points, as JSON Schema (and ajv) count them: an astral character is one, not two.
    const length = (s: string) => [...s].length;
    // Sized 'medium' (repetitions up to about 100): at fast-check's default size a pattern that only
    // says which characters (storable text) makes strings of at most 10, and a schema asking for 20
    // or more would be filtered forever.
    return fc
      .stringMatching(new RegExp(schema.pattern), { size: 'medium' })
      .filter((s) => length(s) >= minLength && length(s) <= maxLength);
  }
  return fc.string({ minLength, maxLength });
}

/** A value of any JSON type that this schema does not describe, or at its edges. */
export function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(...NASTY_NUMBERS),
    fc.constantFrom(...NASTY_STRINGS),
    fc.string({ unit: 'binary', maxLength: 50 }),
    fc.constantFrom(null, true, false, [], {}, [null], { $gt: '' }, { __proto__: { admin: true } }),
    fc.double(),
    fc.integer(),
    fc.jsonValue({ maxDepth: 2 }),
  );
}

/** A valid value with one or more things broken: a field of the wrong kind, missing, or extra. */
export function hostile(schema: JsonSchema): fc.Arbitrary<unknown> {
  const base = valid(schema);
  const properties = Object.keys(schema.properties ?? {});
  const variants: fc.Arbitrary<unknown>[] = [hostileValue()];
  if (properties.length > 0) {
    variants.push(
      // One property replaced by a hostile value.
      fc
        .tuple(base, fc.constantFrom(...properties), hostileValue())
        .map(([value, key, bad]) => ({ ...(value as object), [key]: bad })),
      // A required property left out.
      fc.tuple(base, fc.constantFrom(...properties)).map(([value, key]) => {
        const copy = { ...(value as Record<string, unknown>) };
        delete copy[key];
        return copy;
      }),
      // A field the schema does not know.
      fc
        .tuple(base, fc.constantFrom('role', 'priceCents', 'admin', 'userId', 'status', 'extra'), hostileValue())
        .map(([value, key, bad]) => ({
          ...(value as object),
          [key]: bad,
        })),
    );
    // Nested: an item inside an array property broken.
    for (const [key, property] of Object.entries(schema.properties ?? {})) {
      if (property.type === 'array' && property.items) {
        variants.push(
          fc
            .tuple(base, fc.array(hostile(property.items), { minLength: 1, maxLength: 3 }))
            .map(([value, items]) => ({ ...(value as object), [key]: items })),
        );
      }
    }
  }
  for (const member of schema.anyOf ?? []) if (member.type === 'object') variants.push(hostile(member));
  return fc.oneof(...variants);
}

/** One step from a schema to a string inside it: a property, an array's items, a member of a union. */
export type FieldStep = { property: string } | { items: true } | { member: number };

/** Every string a value of this schema can hold, as the steps that lead to it (enums and constants left out: a closed set). */
export function stringFields(schema: JsonSchema, steps: FieldStep[] = []): FieldStep[][] {
  if (schema.enum !== undefined || schema.const !== undefined) return [];
  const found: FieldStep[][] = [];
  if ([schema.type ?? []].flat().includes('string')) found.push(steps);
  for (const [property, child] of Object.entries(schema.properties ?? {}))
    found.push(...stringFields(child, [...steps, { property }]));
  if (schema.items) found.push(...stringFields(schema.items, [...steps, { items: true }]));
  (schema.anyOf ?? schema.oneOf ?? []).forEach((member, index) =>
    found.push(...stringFields(member, [...steps, { member: index }])),
  );
  return found;
}

export function describeField(steps: FieldStep[]): string {
  return steps
    .map((step) => ('property' in step ? `.${step.property}` : 'items' in step ? '[]' : `|${step.member}`))
    .join('');
}

/**
 * Text PostgreSQL cannot store: a NUL anywhere, or (where the text can carry one: a JSON body, not
 * a URL or a header) a lone surrogate, amid ordinary text.
 */
export function unstorableText(withSurrogates: boolean): fc.Arbitrary<string> {
  const bad = withSurrogates
    ? fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff')
    : fc.constant('\u0000');
  return fc
    .tuple(fc.string({ maxLength: 12 }), bad, fc.string({ maxLength: 12 }))
    .map(([before, character, after]) => before + character + after);
}

/**
 * Values of the schema that are valid except for the one field the steps lead to, which always
 * holds `text`: the field is made required, its array non-empty, its union member the one chosen.
 */
export function validWithText(
  schema: JsonSchema,
  field: FieldStep[],
  text: fc.Arbitrary<string>,
): fc.Arbitrary<unknown> {
  const marker = '\u0001field under test\u0001';
  return fc.tuple(valid(planted(schema, field, marker)), text).map(([value, bad]) => replaced(value, marker, bad));
}

function planted(schema: JsonSchema, steps: FieldStep[], marker: string): JsonSchema {
  const [step, ...rest] = steps;
  if (!step) return { const: marker };
  if ('property' in step) {
    return {
      ...schema,
      properties: { ...schema.properties, [step.property]: planted(schema.properties![step.property]!, rest, marker) },
      required: [...new Set([...(schema.required ?? []), step.property])],
    };
  }
  if ('items' in step)
    return { ...schema, items: planted(schema.items!, rest, marker), minItems: Math.max(1, schema.minItems ?? 0) };
  return planted((schema.anyOf ?? schema.oneOf)![step.member]!, rest, marker);
}

function replaced(value: unknown, marker: string, text: string): unknown {
  if (value === marker) return text;
  if (Array.isArray(value)) return value.map((item) => replaced(item, marker, text));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaced(item, marker, text)]));
  return value;
}
