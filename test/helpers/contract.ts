/**
 * The contract tier: every request the API tier sends through app.inject, and the API's answer,
 * checked against the OpenAPI document the app serves at /docs/json by an independent validator
 * (openapi-backend: its own router and ajv schemas, not Fastify's):
 * - the request must match a documented operation, and its parameters, body and security
 *   (one of the operation's alternatives present: bearer token, session cookie with the CSRF
 *   header, query token) must conform; a request that does not conform must be refused (4xx),
 *   never accepted — the API may not take what its document says it refuses;
 * - the answer's status must be one the operation lists, its media type one that status lists,
 *   and a JSON body must match that status's schema; a Server-Sent Events answer is checked by
 *   its headers (status and media type), not its body, which does not end.
 * A test that sends a request invalid on purpose marks it (`contract: 'invalid'`): the checker then
 * also fails when the request conforms after all, or when the API accepts it.
 *
 * A violation fails the request's test at once. With CONTRACT_REPORT=<file>, violations are
 * appended to that file as JSON lines instead (to survey many test files in one run).
 */
import { appendFileSync } from 'node:fs';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import addFormats from 'ajv-formats';
import { OpenAPIBackend, type Document, type Operation } from 'openapi-backend';

declare module 'light-my-request' {
  interface InjectOptions {
    /** Sent invalid on purpose: the document must refuse it and so must the API. */
    contract?: 'invalid';
  }
}

/** One request as the checker sees it. */
export interface ContractRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  /** Lowercase names. */
  headers: Record<string, string>;
  cookies: Record<string, string>;
  /** Undefined when the request has none; parsed JSON when it parses. */
  body?: unknown;
  invalidOnPurpose?: boolean;
}

/** One answer as the checker sees it. */
export interface ContractResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** The body as sent; empty for none. */
  payload: string;
  /** Read as a stream by the test (payloadAsStream): only the status and headers are checked. */
  bodyUnread?: boolean;
}

/** Routes the document leaves out on purpose: Swagger UI, Prometheus, the dashboard's files, CORS preflights. */
function undocumentedByDesign(request: ContractRequest): boolean {
  if (request.method === 'OPTIONS') return true;
  if (/^\/docs(\/|$)/.test(request.path) || request.path === '/metrics') return true;
  const read = request.method === 'GET' || request.method === 'HEAD';
  return read && !/^\/(v1|codec)(\/|$)/.test(request.path) && !/^\/(healthz|readyz)$/.test(request.path);
}

type SecurityScheme = { type: string; scheme?: string; in?: string; name?: string };
type Responses = Record<string, { content?: Record<string, unknown> }>;

export class OpenApiContract {
  private constructor(
    private readonly backend: OpenAPIBackend,
    readonly document: Document,
  ) {}

  static async of(document: Document): Promise<OpenApiContract> {
    const definition = structuredClone(document);
    for (const operations of Object.values(definition.paths ?? {}))
      for (const operation of Object.values(operations ?? {}))
        for (const response of Object.values((operation as Operation).responses ?? {}))
          for (const media of Object.values(
            (response as { content?: Record<string, { schema?: unknown }> }).content ?? {},
          ))
            closeObjects(media.schema);
    const backend = new OpenAPIBackend({
      definition,
      // Spectral lints the document (api/openapi.api.test.ts); validators compile per operation when first used.
      quick: true,
      validate: true,
      customizeAjv: (ajv) => {
        addFormats(ajv as never);
        return ajv;
      },
    });
    await backend.init();
    return new OpenApiContract(backend, document);
  }

  /** What is wrong with this exchange, as sentences; empty when it keeps the contract. */
  problemsOf(request: ContractRequest, response: ContractResponse): string[] {
    const head = request.method === 'HEAD';
    const operation = this.backend.router.matchOperation({
      method: head ? 'GET' : request.method,
      path: request.path,
      headers: request.headers,
      query: request.query,
    }) as Operation | undefined;
    if (!operation) {
      if (undocumentedByDesign(request)) return [];
      // Refused like any unknown route: nothing was accepted that the document does not have.
      if (response.statusCode >= 400 && response.statusCode < 500 && isErrorBody(response.payload)) return [];
      return [`answered ${response.statusCode} on a route the document does not have`];
    }
    const problems: string[] = [];
    const refusals = this.requestProblems(operation, request);
    const accepted = response.statusCode < 400;
    if (request.invalidOnPurpose && refusals.length === 0)
      problems.push('was marked invalid on purpose, but conforms to the document');
    if (accepted && refusals.length > 0)
      problems.push(`was accepted (${response.statusCode}) although the document refuses it: ${refusals.join('; ')}`);
    if (accepted && request.invalidOnPurpose) problems.push(`was sent invalid on purpose and accepted`);
    problems.push(...this.responseProblems(operation, response, head));
    return problems;
  }

  private requestProblems(operation: Operation, request: ContractRequest): string[] {
    const problems: string[] = [];
    const security = this.securityProblem(operation, request);
    if (security) problems.push(security);
    const result = this.validateRequest(operation, request);
    if (result === 'malformed-path') return [...problems, 'its path is not valid percent-encoding'];
    for (const error of result.errors ?? []) problems.push(`${error.instancePath || 'request'} ${error.message}`);
    const content = (operation.requestBody as { content?: Record<string, unknown> } | undefined)?.content;
    const mediaType = mediaTypeOf(request.headers['content-type']);
    if (content && request.body !== undefined && mediaType && !(mediaType in content))
      problems.push(`sends ${mediaType}, where the document takes ${Object.keys(content).join(', ')}`);
    return problems;
  }

  /** The validator's verdict; a path whose percent-encoding does not decode cannot be read as parameters at all. */
  private validateRequest(operation: Operation, request: ContractRequest) {
    try {
      return this.backend.validator.validateRequest(
        {
          method: request.method === 'HEAD' ? 'GET' : request.method,
          path: request.path,
          query: request.query,
          headers: {
            ...request.headers,
            ...(Object.keys(request.cookies).length ? { cookie: cookieHeader(request.cookies) } : {}),
          },
          body: request.body,
        },
        operation,
      );
    } catch (error) {
      if (error instanceof URIError) return 'malformed-path' as const;
      throw error;
    }
  }

  private securityProblem(operation: Operation, request: ContractRequest): string | undefined {
    const alternatives = (operation.security ?? this.document.security ?? []) as Record<string, string[]>[];
    if (alternatives.length === 0) return undefined;
    const schemes = (this.document.components?.securitySchemes ?? {}) as Record<string, SecurityScheme>;
    const present = (name: string) => {
      const scheme = schemes[name];
      if (!scheme) return false;
      if (scheme.type === 'http' && scheme.scheme === 'bearer')
        return /^bearer\s+\S/i.test(request.headers.authorization ?? '');
      const key = scheme.name ?? '';
      if (scheme.in === 'header') return request.headers[key.toLowerCase()] !== undefined;
      if (scheme.in === 'cookie') return request.cookies[key] !== undefined;
      if (scheme.in === 'query') return request.query[key] !== undefined;
      return false;
    };
    if (alternatives.some((alternative) => Object.keys(alternative).every(present))) return undefined;
    const named = alternatives.map((alternative) => Object.keys(alternative).join(' + ') || 'none');
    return `carries none of its security alternatives (${named.join(', ')})`;
  }

  private responseProblems(operation: Operation, response: ContractResponse, head: boolean): string[] {
    const status = response.statusCode;
    const responses = (operation.responses ?? {}) as Responses;
    const documented = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    if (!documented)
      return [`answered ${status}, which the document does not list (it lists ${Object.keys(responses).join(', ')})`];
    if (head || response.bodyUnread) return [];
    const content = documented.content ?? {};
    const mediaType = mediaTypeOf(headerText(response.headers['content-type']));
    if (Object.keys(content).length === 0)
      return response.payload.length > 0 ? [`answered ${status} with a body the document says it has none`] : [];
    if (!mediaType || !(mediaType in content))
      return [
        `answered ${status} as ${mediaType ?? 'no media type'}, where the document says ${Object.keys(content).join(', ')}`,
      ];
    // An event stream does not end: its status and media type are checked, not its events.
    if (mediaType !== 'application/json') return [];
    let body: unknown;
    try {
      body = JSON.parse(response.payload);
    } catch {
      return [`answered ${status} with a body that is not JSON`];
    }
    const result = this.backend.validator.validateResponse(body, operation, status);
    return (result.errors ?? []).map(
      (error) =>
        `answered ${status} with body${error.instancePath.replace(/\//g, '.')} ${error.message}${extra(error.params)}`,
    );
  }
}

/**
 * Answers are checked closed: an object schema that lists its properties takes no others, so a
 * field the schema lacks is a violation. (Fastify's serializer drops such fields, but not from a
 * body a route sends already serialized, or from a schema that stays open.)
 */
function closeObjects(schema: unknown): void {
  if (!schema || typeof schema !== 'object') return;
  const node = schema as Record<string, unknown>;
  if (node.properties && node.additionalProperties === undefined && !node.patternProperties)
    node.additionalProperties = false;
  for (const key of ['properties', 'patternProperties'])
    for (const child of Object.values((node[key] ?? {}) as Record<string, unknown>)) closeObjects(child);
  for (const key of ['items', 'additionalProperties', 'not']) closeObjects(node[key]);
  for (const key of ['anyOf', 'oneOf']) for (const child of (node[key] ?? []) as unknown[]) closeObjects(child);
}

function extra(params: unknown): string {
  const { additionalProperty } = (params ?? {}) as { additionalProperty?: string };
  return additionalProperty ? `: ${additionalProperty}` : '';
}

function isErrorBody(payload: string): boolean {
  try {
    const body = JSON.parse(payload) as { error?: { code?: unknown; message?: unknown } };
    return typeof body.error?.code === 'string' && typeof body.error.message === 'string';
  } catch {
    return false;
  }
}

function mediaTypeOf(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  return type || undefined;
}

function headerText(value: string | string[] | number | undefined): string | undefined {
  return value === undefined ? undefined : String([value].flat()[0]);
}

function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return cookies;
}

/** A request as light-my-request's options describe it, in the checker's terms. */
export function contractRequestOf(options: InjectOptions | string): ContractRequest {
  const given: InjectOptions = typeof options === 'string' ? { url: options } : options;
  const rawUrl = given.url ?? given.path ?? '/';
  const url =
    typeof rawUrl === 'string'
      ? new URL(rawUrl, 'http://contract.test')
      : new URL(
          `${rawUrl.pathname ?? '/'}${rawUrl.query ? `?${new URLSearchParams(rawUrl.query as never)}` : ''}`,
          'http://contract.test',
        );
  const query: Record<string, string | string[]> = {};
  const add = (name: string, value: string) => {
    const had = query[name];
    query[name] = had === undefined ? value : [had, value].flat();
  };
  url.searchParams.forEach((value, name) => add(name, value));
  if (typeof given.query === 'string') new URLSearchParams(given.query).forEach((value, name) => add(name, value));
  else
    for (const [name, value] of Object.entries(given.query ?? {}))
      for (const one of [value].flat()) add(name, String(one));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given.headers ?? {}))
    if (value !== undefined) headers[name.toLowerCase()] = [value].flat().map(String).join(', ');
  const cookies = { ...parseCookies(headers.cookie), ...((given.cookies ?? {}) as Record<string, string>) };
  delete headers.cookie;
  const payload = given.payload ?? given.body;
  let body: unknown;
  if (payload === undefined || payload === null) body = undefined;
  else if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    const text = payload.toString();
    if (text.length === 0) body = undefined;
    else
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
  } else if (typeof (payload as { pipe?: unknown }).pipe === 'function') body = '<stream>';
  else {
    body = payload;
    headers['content-type'] ??= 'application/json';
  }
  return {
    method: (given.method ?? 'GET').toUpperCase(),
    path: decodeURI(url.pathname),
    query,
    headers,
    cookies,
    body,
    invalidOnPurpose: given.contract === 'invalid',
  };
}

/** Requests checked, refused (4xx) and violations found in this test file (one Jest worker runs one file at a time). */
export const contractLedger = { checked: 0, refused: 0, violations: [] as string[] };

/** Records a violation: fails the test, or appends it to CONTRACT_REPORT's file. */
function report(where: string, problems: string[]): void {
  const message = problems.map((problem) => `${where} ${problem}`);
  contractLedger.violations.push(...message);
  const file = process.env.CONTRACT_REPORT;
  if (file) {
    const state = (globalThis as { expect?: { getState(): { testPath?: string; currentTestName?: string } } }).expect;
    const { testPath, currentTestName } = state?.getState() ?? {};
    for (const violation of message)
      appendFileSync(file, `${JSON.stringify({ file: testPath, test: currentTestName, violation })}\n`);
    return;
  }
  throw new Error(
    `The OpenAPI contract (/docs/json) is broken (test/helpers/contract.ts):\n${message.map((m) => `  - ${m}`).join('\n')}`,
  );
}

/** With CONTRACT_REPORT set: appends this file's count of checked requests and violations to the report. */
export function reportContractLedger(): void {
  const file = process.env.CONTRACT_REPORT;
  if (!file) return;
  const state = (globalThis as { expect?: { getState(): { testPath?: string } } }).expect;
  const summary = {
    file: state?.getState().testPath,
    checked: contractLedger.checked,
    refused: contractLedger.refused,
    violations: contractLedger.violations.length,
  };
  appendFileSync(file, `${JSON.stringify({ summary })}\n`);
}

const CHECKED = Symbol.for('storefront.contractChecked');

function record(request: ContractRequest, statusCode: number, problems: string[]): void {
  contractLedger.checked++;
  if (statusCode >= 400 && statusCode < 500) contractLedger.refused++;
  if (problems.length > 0) report(`${request.method} ${request.path}`, problems);
}

/** The API's document, as the stack at `origin` serves it; undefined for any other server (Stripe's double, Mailpit). */
async function servedContract(fetch: typeof globalThis.fetch, origin: string): Promise<OpenApiContract | undefined> {
  try {
    const response = await fetch(`${origin}/docs/json`);
    if (!response.ok) return undefined;
    const document = (await response.json()) as Document;
    return document.info?.title === 'Storefront Sagas API' ? await OpenApiContract.of(document) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks every fetch() a test file sends to a local server that serves the API's document: the
 * end-to-end tier's stack and the API tier's listening instances (test/helpers/live-api.ts). An
 * event stream's body is left to the test; its status and media type are checked.
 */
export function checkFetchedContract(): void {
  const original = globalThis.fetch as typeof globalThis.fetch & { [CHECKED]?: boolean };
  if (original[CHECKED]) return;
  const contracts = new Map<string, Promise<OpenApiContract | undefined>>();
  const checked = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (!/^(127\.0\.0\.1|localhost|\[::1\])$/.test(url.hostname)) return original(input, init);
    const payload = request.body ? await request.clone().text() : undefined;
    const response = await original(request);
    if (!contracts.has(url.origin)) contracts.set(url.origin, servedContract(original, url.origin));
    const contract = await contracts.get(url.origin);
    if (!contract) return response;
    const streamed = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
    const sent = contractRequestOf({
      method: request.method as 'GET',
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(request.headers),
      ...(payload !== undefined ? { payload } : {}),
    });
    const problems = contract.problemsOf(sent, {
      statusCode: response.status,
      headers: Object.fromEntries(response.headers),
      payload: streamed ? '' : await response.clone().text(),
      bodyUnread: streamed,
    });
    record(sent, response.status, problems);
    return response;
  };
  globalThis.fetch = Object.assign(checked, { [CHECKED]: true }) as typeof globalThis.fetch;
}

/**
 * Checks every app.inject(options) of this app against the document the app serves (fetched on
 * the first request). Chained injections (app.inject() without options) and callbacks pass unchecked.
 */
export function checkContract(app: FastifyInstance): FastifyInstance {
  const holder = app as unknown as { [CHECKED]?: boolean; inject: FastifyInstance['inject'] };
  if (holder[CHECKED]) return app;
  holder[CHECKED] = true;
  const inject = app.inject.bind(app) as (options?: InjectOptions | string, callback?: unknown) => unknown;
  let contract: Promise<OpenApiContract> | undefined;
  const contractOf = () =>
    (contract ??= (inject({ method: 'GET', url: '/docs/json' }) as Promise<LightMyRequestResponse>).then((response) =>
      OpenApiContract.of(response.json() as Document),
    ));
  const checked = async (options: InjectOptions | string): Promise<LightMyRequestResponse> => {
    const { contract: _mark, ...sent } = typeof options === 'string' ? { url: options } : options;
    const response = (await inject(sent as InjectOptions)) as LightMyRequestResponse;
    const request = contractRequestOf(options);
    const problems = (await contractOf()).problemsOf(request, {
      statusCode: response.statusCode,
      headers: response.headers,
      payload: sent.payloadAsStream ? '' : response.payload,
      bodyUnread: sent.payloadAsStream === true,
    });
    record(request, response.statusCode, problems);
    return response;
  };
  holder.inject = ((options?: InjectOptions | string, callback?: unknown) =>
    options === undefined || callback !== undefined ? inject(options, callback) : checked(options)) as never;
  return app;
}
