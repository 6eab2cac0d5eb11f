/**
 * The catalogue's pages as GET /v1/products sends them, kept per API instance: each page's JSON
 * bytes and their ETag, read once and all dropped whenever the inventory database announces a
 * change (CATALOGUE_CHANNEL, sent at commit by a trigger on the products table). A change costs
 * the pages asked for again (a page is at most MAX_PAGE_LIMIT products), never the whole catalogue.
 * Every instance holds its own LISTEN connection, so a change made through any of them, or by any
 * other writer, reaches them all. While that connection is down nothing is heard, so the cache
 * reads through to the database; on reconnecting it starts empty, since changes made meanwhile
 * went unannounced.
 */
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { openListener, releaseListener } from '../lib/db/listener';
import { pageLimit } from '../lib/paging';
import { CATALOGUE_CHANNEL, type ProductPageRequest } from '../services/inventory/inventory.service';

/** A page serialized once: what a 200 carries and the ETag a client revalidates it with. */
export interface CataloguePage {
  body: string;
  etag: string;
}

/** The page a request asks for, its limit bounded: the cache's key. */
export type CatalogueQuery = ProductPageRequest & { limit: number };

export interface Catalogue {
  page(query: ProductPageRequest): Promise<CataloguePage>;
}

/** Reads one page of the catalogue as the route answers it ({items, nextCursor}). */
export type CatalogueLoader = (query: CatalogueQuery) => Promise<unknown>;

export function toCataloguePage(page: unknown): CataloguePage {
  const body = JSON.stringify(page);
  // The ETag is the body's hash, so every instance tags the same page alike.
  return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

function normalize(query: ProductPageRequest): { key: string; query: CatalogueQuery } {
  const limit = pageLimit(query.limit);
  const q = query.q?.trim() || undefined;
  const normalized: CatalogueQuery = {
    limit,
    ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    ...(q !== undefined ? { q } : {}),
    ...(query.available !== undefined ? { available: query.available } : {}),
  };
  return { key: JSON.stringify([limit, query.cursor ?? null, q ?? null, query.available ?? null]), query: normalized };
}

/** No cache: every request reads the database (tests that build an app without a listener). */
export function readThroughCatalogue(load: CatalogueLoader): Catalogue {
  return { page: async (query) => toCataloguePage(await load(normalize(query).query)) };
}

/** True when an If-None-Match header names the page's ETag (or `*`); weak and strong compare alike, as RFC 9110 says for GET. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const candidate = tag.trim().replace(/^W\//, '');
    return candidate === '*' || candidate === etag;
  });
}

/**
 * Pages kept at most: searches make the set of pages unbounded, so the least recently used go
 * first. 1,000 pages of 50 products are about 8 MB.
 */
export const DEFAULT_MAX_CACHED_PAGES = 1_000;

export interface CatalogueCacheOptions {
  /** The inventory database, for the one dedicated LISTEN connection. */
  connectionString: string;
  /** Reads one page as the route answers it ({items, nextCursor}). */
  load: CatalogueLoader;
  /** Pages kept at most (DEFAULT_MAX_CACHED_PAGES). */
  maxPages?: number;
  /** Shown in pg_stat_activity for the listening connection. */
  applicationName?: string;
  /** Wait before reconnecting a lost listening connection. */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

export const DEFAULT_CATALOGUE_APPLICATION_NAME = 'storefront-catalogue-cache';

export class CatalogueCache implements Catalogue {
  /** The pages read since the last change, least recently used first (a Map keeps insertion order). */
  private readonly pages = new Map<string, CataloguePage>();
  /** Reads in flight, each shared by the requests for its page that arrive meanwhile, with the generation it started in. */
  private readonly pending = new Map<string, { generation: number; page: Promise<CataloguePage> }>();
  /** Bumped by every announced change and every lost connection: a read begun before it is not kept. */
  private generation = 0;
  private client: Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: CatalogueCacheOptions) {}

  /** Opens the LISTEN connection; when the database is away it keeps trying, and reads through meanwhile. */
  async start(): Promise<void> {
    try {
      await this.listen();
    } catch (error) {
      this.options.onError?.(error);
      this.scheduleReconnect();
    }
  }

  /** True while the LISTEN connection is up, i.e. while the cache may answer from memory. */
  isListening(): boolean {
    return this.client !== null;
  }

  /** Calls `listener` after every drop of the cached page (an announcement, a lost or regained connection). */
  onInvalidated(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Pages held now (for tests and the benchmark's memory figures). */
  cachedPages(): number {
    return this.pages.size;
  }

  async page(request: ProductPageRequest): Promise<CataloguePage> {
    const { key, query } = normalize(request);
    if (!this.client) return toCataloguePage(await this.options.load(query));
    const cached = this.pages.get(key);
    if (cached) {
      // Most recently used goes last: the eviction below takes the first.
      this.pages.delete(key);
      this.pages.set(key, cached);
      return cached;
    }
    const inFlight = this.pending.get(key);
    if (inFlight?.generation === this.generation) return inFlight.page;
    const generation = this.generation;
    const page = this.options.load(query).then(toCataloguePage);
    this.pending.set(key, { generation, page });
    try {
      const loaded = await page;
      // A change announced while this read ran may not be in it: answer with it, but do not keep it.
      if (this.generation === generation && this.client) this.keep(key, loaded);
      return loaded;
    } finally {
      if (this.pending.get(key)?.page === page) this.pending.delete(key);
    }
  }

  private keep(key: string, page: CataloguePage): void {
    this.pages.set(key, page);
    const max = this.options.maxPages ?? DEFAULT_MAX_CACHED_PAGES;
    for (const oldest of this.pages.keys()) {
      if (this.pages.size <= max) break;
      this.pages.delete(oldest);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    this.invalidate();
    if (client) await releaseListener(client);
  }

  private async listen(): Promise<void> {
    const client = await openListener({
      connectionString: this.options.connectionString,
      applicationName: this.options.applicationName ?? DEFAULT_CATALOGUE_APPLICATION_NAME,
      channel: CATALOGUE_CHANNEL,
      // An unreachable host must not hold the reconnect loop up: reading through meanwhile is correct, only slower.
      connectionTimeoutMillis: 5_000,
      onNotification: (message) => {
        if (message.channel === CATALOGUE_CHANNEL) this.invalidate();
      },
      // A lost connection means changes go unheard.
      onLost: (lost, error) => this.onConnectionLost(lost, error),
    });
    if (this.closed) {
      await releaseListener(client);
      return;
    }
    // Whatever was read before this LISTEN took effect may have missed an announcement.
    this.invalidate();
    this.client = client;
  }

  private onConnectionLost(client: Client, error?: unknown): void {
    if (this.client !== client) return;
    if (error) this.options.onError?.(error);
    this.client = null;
    this.invalidate();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen().catch((error: unknown) => {
        this.options.onError?.(error);
        this.scheduleReconnect();
      });
    }, this.options.retryDelayMs ?? 1_000);
    this.reconnectTimer.unref();
  }

  private invalidate(): void {
    this.generation += 1;
    this.pages.clear();
    for (const listener of this.listeners) listener();
  }
}
