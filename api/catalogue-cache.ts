/**
 * The catalogue as GET /v1/products sends it, kept per API instance: its JSON bytes and their
 * ETag, read once and dropped whenever the inventory database announces a change
 * (CATALOGUE_CHANNEL, sent at commit by a trigger on the products table). Every instance holds
 * its own LISTEN connection, so a change made through any of them, or by any other writer, reaches
 * them all. While that connection is down nothing is heard, so the cache reads through to the
 * database; on reconnecting it starts empty, since changes made meanwhile went unannounced.
 */
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { openListener, releaseListener } from '../lib/db/listener';
import { CATALOGUE_CHANNEL } from '../services/inventory/inventory.service';

/** The catalogue serialized once: what a 200 carries and the ETag a client revalidates with. */
export interface CataloguePage {
  body: string;
  etag: string;
}

export interface Catalogue {
  current(): Promise<CataloguePage>;
}

export function toCataloguePage(catalogue: unknown): CataloguePage {
  const body = JSON.stringify(catalogue);
  return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

/** No cache: every request reads the database (tests that build an app without a listener). */
export function readThroughCatalogue(load: () => Promise<unknown>): Catalogue {
  return { current: async () => toCataloguePage(await load()) };
}

/** True when an If-None-Match header names the page's ETag (or `*`); weak and strong compare alike, as RFC 9110 says for GET. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const candidate = tag.trim().replace(/^W\//, '');
    return candidate === '*' || candidate === etag;
  });
}

export interface CatalogueCacheOptions {
  /** The inventory database, for the one dedicated LISTEN connection. */
  connectionString: string;
  /** Reads the catalogue as the route answers it ({ items }). */
  load: () => Promise<unknown>;
  /** Shown in pg_stat_activity for the listening connection. */
  applicationName?: string;
  /** Wait before reconnecting a lost listening connection. */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

export const DEFAULT_CATALOGUE_APPLICATION_NAME = 'storefront-catalogue-cache';

export class CatalogueCache implements Catalogue {
  private page: CataloguePage | undefined;
  /** The read in flight, shared by the requests that arrive meanwhile, for the generation it started in. */
  private pending: { generation: number; page: Promise<CataloguePage> } | undefined;
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

  async current(): Promise<CataloguePage> {
    if (!this.client) return toCataloguePage(await this.options.load());
    if (this.page) return this.page;
    if (this.pending?.generation === this.generation) return this.pending.page;
    const generation = this.generation;
    const page = this.options.load().then(toCataloguePage);
    this.pending = { generation, page };
    try {
      const loaded = await page;
      // A change announced while this read ran may not be in it: answer with it, but do not keep it.
      if (this.generation === generation && this.client) this.page = loaded;
      return loaded;
    } finally {
      if (this.pending?.page === page) this.pending = undefined;
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
    this.page = undefined;
    for (const listener of this.listeners) listener();
  }
}
