/**
 * What every 2xx answer of the fuzz tier must hold, whatever was asked:
 *   - its body has the shape the route documents for that status, and no field the document does
 *     not name (a column or a secret that leaked past the response schema);
 *   - it shows a customer nothing of another customer's: no order of theirs, no row of theirs.
 * Each check returns what is wrong, in words, for the property to throw (fast-check then shrinks).
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { JsonSchema } from './arbitraries';

/**
 * Field names that never belong in an answer, whatever the schema says: stored secrets and lookup
 * keys. (A `password` is answered by one route on purpose: the demo accounts' sign-in details.)
 */
const NEVER_ANSWERED = /^(passwordHash|password_hash|emailKey|email_key|secret|stripeSecretKey|apiKey)$/i;

/** The documented body of each route's answers, compiled once per route and status. */
export class AnswerShapes {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction | null>();

  constructor(private readonly doc: OpenAPIV3_1.Document) {
    addFormats(this.ajv);
  }

  /** What is wrong with the body of a 2xx answer; empty when nothing is. */
  problems(method: string, path: string, status: number, body: unknown): string[] {
    const validate = this.validator(method, path, status);
    const problems: string[] = [];
    if (validate === null) problems.push(`${status} is not a documented answer with a JSON body`);
    else if (validate && !validate(body))
      problems.push(
        `the body is not the documented shape: ${this.ajv.errorsText(validate.errors, { dataVar: 'body' }).slice(0, 300)}`,
      );
    const leaked = fieldNames(body).filter((name) => NEVER_ANSWERED.test(name));
    if (leaked.length > 0) problems.push(`the body carries ${[...new Set(leaked)].join(', ')}`);
    return problems;
  }

  /** undefined: the answer has no body to check (204, or a body that is not JSON); null: not documented. */
  private validator(method: string, path: string, status: number): ValidateFunction | null | undefined {
    const key = `${method} ${path} ${status}`;
    if (!this.compiled.has(key)) {
      const operation = this.doc.paths?.[path]?.[method.toLowerCase() as OpenAPIV3_1.HttpMethods];
      const response = operation?.responses?.[String(status)] as OpenAPIV3_1.ResponseObject | undefined;
      if (!response) this.compiled.set(key, null);
      else {
        const schema = response.content?.['application/json']?.schema as JsonSchema | undefined;
        if (schema) this.compiled.set(key, this.ajv.compile(closed(schema)));
      }
    }
    return this.compiled.get(key);
  }
}

/** The schema with every object closed to the properties it names: a field the document does not name is a leak. */
function closed(schema: JsonSchema): JsonSchema {
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = { ...schema };
  if (schema.properties) {
    copy.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, closed(v)]));
    if (schema.additionalProperties === undefined) copy.additionalProperties = false;
  }
  if (schema.items) copy.items = closed(schema.items);
  for (const union of ['anyOf', 'oneOf', 'allOf'] as const) {
    const members = (schema as Record<string, unknown>)[union] as JsonSchema[] | undefined;
    if (members) copy[union] = members.map(closed);
  }
  return copy as JsonSchema;
}

function fieldNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(fieldNames);
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([name, inner]) => [name, ...fieldNames(inner)]);
  return [];
}

/** Who owns what the fuzz run created: order ids by customer. */
export class Owners {
  private readonly ownerOf = new Map<string, string>();

  add(id: string, customerId: string): void {
    this.ownerOf.set(id, customerId);
  }

  /** What a customer's answer shows of someone else's: their orders' ids, or rows naming another customer. */
  problems(customerId: string, body: unknown): string[] {
    const text = JSON.stringify(body) ?? '';
    const problems = [...this.ownerOf]
      .filter(([id, owner]) => owner !== customerId && text.includes(id))
      .map(([id, owner]) => `${customerId} was shown ${owner}'s ${id}`);
    for (const [name, value] of ownerFields(body))
      if (value !== customerId) problems.push(`${customerId} was shown a ${name} of ${String(value)}`);
    return problems;
  }
}

function ownerFields(value: unknown): Array<[string, unknown]> {
  if (Array.isArray(value)) return value.flatMap(ownerFields);
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([name, inner]): Array<[string, unknown]> => [
      ...(name === 'customerId' || name === 'userId' ? [[name, inner] as [string, unknown]] : []),
      ...ownerFields(inner),
    ]);
  return [];
}
