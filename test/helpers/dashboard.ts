/**
 * What the dashboard's browser tests share: the real API on a port (helpers/live-api.ts) and
 * headless Chromium (helpers/chromium.ts), started before the file's tests and closed after them;
 * pages that record the script errors they meet, the sign-in form, and the customer as an API
 * client beside the page (a build server, another tab). Each named browser has its own profile,
 * so two people (a customer and an admin) can be signed in at once.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumProfile, ensureChromium, type ChromiumProfile } from './chromium';
import { startLiveApis, type LiveApiOptions, type LiveApis, type LiveInstance } from './live-api';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that tests read freely
type ParsedJson = any;

export interface ApiClient {
  userId: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: ParsedJson }>;
}

export interface DashboardBench {
  live: LiveApis;
  /** The API instance the pages open. */
  api: LiveInstance;
  /** Uncaught script errors and console errors of every page opened, for `expect(...).toEqual([])`. */
  pageErrors: string[];
  /** A page of the dashboard at `path`, in the named browser (launched on its profile when it is not open). */
  open(path?: string, browser?: string): Promise<Page>;
  /** Closes the named browser; its profile (cookies, storage) stays for the next `open`. */
  closeBrowser(browser?: string): Promise<void>;
  /** Signs in (or up) through the form and waits for the live stream to open. */
  signInThroughForm(page: Page, mode: 'signin' | 'signup', email: string, password: string): Promise<void>;
  /** Creates an account through the API; answers its user id. */
  signUp(email: string, password: string): Promise<string>;
  /** The account as an API client: a session of its own, by bearer token. */
  signInAsClient(email: string, password: string): Promise<ApiClient>;
}

/** Registers the bench's beforeAll and afterAll; register it before the file's own hooks. */
export function useDashboard(options: LiveApiOptions = {}): DashboardBench {
  let live: LiveApis | undefined;
  const profiles = new Map<string, ChromiumProfile>();
  const browsers = new Map<string, BrowserContext>();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // A fresh machine installs Debian's chromium first (minutes, once).
    ensureChromium((line) => console.log(line));
    live = await startLiveApis(options);
  }, 20 * 60_000);

  afterAll(async () => {
    for (const browser of browsers.values()) await browser.close();
    for (const profile of profiles.values()) profile.dispose();
    await live?.close();
  });

  const started = (): LiveApis => {
    if (!live) throw new Error('The dashboard bench starts in beforeAll; use it inside a hook or test');
    return live;
  };
  const url = (path: string) => `${started().instances[0]!.url}${path}`;

  async function launched(name: string): Promise<BrowserContext> {
    const open = browsers.get(name);
    if (open) return open;
    let profile = profiles.get(name);
    if (!profile) profiles.set(name, (profile = chromiumProfile()));
    const browser = await profile.launch();
    browsers.set(name, browser);
    return browser;
  }

  async function signInAsClient(email: string, password: string): Promise<ApiClient> {
    const response = await fetch(url('/v1/auth/signin'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(response.status).toBe(200);
    const { token, user } = (await response.json()) as { token: string; user: { id: string } };
    const call = async (method: string, path: string, body?: unknown) => {
      const answer = await fetch(url(path), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await answer.text();
      return { status: answer.status, body: text ? JSON.parse(text) : undefined };
    };
    return { userId: user.id, call };
  }

  return {
    get live() {
      return started();
    },
    get api() {
      return started().instances[0]!;
    },
    pageErrors,
    async open(path = '/', name = 'default') {
      const browser = await launched(name);
      // The blank page a browser opens with, else a tab of its own.
      const page = browser.pages().find((candidate) => candidate.url() === 'about:blank') ?? (await browser.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });
      await page.goto(url(path));
      return page;
    },
    async closeBrowser(name = 'default') {
      await browsers.get(name)?.close();
      browsers.delete(name);
    },
    async signInThroughForm(page, mode, email, password) {
      await page.locator('#auth-email').fill(email);
      await page.locator('#auth-password').fill(password);
      await page.locator(mode === 'signup' ? '#signup-submit' : '#signin-submit').click();
      await page.locator('#live-status[data-state="open"]').waitFor({ timeout: 15_000 });
    },
    async signUp(email, password) {
      const response = await fetch(url('/v1/auth/signup'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { user: { id: string } }).user.id;
    },
    signInAsClient,
  };
}
