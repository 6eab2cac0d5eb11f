/**
 * The docs tier's checks, as pure functions over text: what a page names (npm scripts, operator
 * commands, settings, routes, relative links) and what the code has. test/docs.docs.test.ts
 * feeds them the real files, and planted inputs to show that each one can fail.
 */

/** A markdown page: its path from the repository's root and its text. */
export interface Page {
  path: string;
  text: string;
}

/** A source file: its path from the repository's root and its text. */
export type Source = Page;

/** Something a page names that does not exist, with where it was named. */
export interface Finding {
  page: string;
  line: number;
  what: string;
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** Each fenced code block's lines, with their line numbers; the prose is what is left. */
function split(text: string): { code: { line: number; text: string }[]; prose: string } {
  const code: { line: number; text: string }[] = [];
  const prose: string[] = [];
  let fenced = false;
  text.split('\n').forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      prose.push('');
    } else if (fenced) {
      code.push({ line: index + 1, text: line });
      prose.push('');
    } else prose.push(line);
  });
  return { code, prose: prose.join('\n') };
}

/** Inline code spans of prose (`like this`), with the offset each starts at. */
function codeSpans(prose: string): { index: number; text: string }[] {
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => ({ index: match.index!, text: match[1]! }));
}

// ---------------------------------------------------------------------------
// npm scripts

/** `npm run <script>` (and `npm start`, `npm test`) the page names that package.json lacks. */
export function unknownNpmScripts(page: Page, scripts: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const match of page.text.matchAll(/\bnpm (?:run ([A-Za-z0-9:_.-]+)|(start|test)\b)/g)) {
    const name = (match[1] ?? match[2]!).replace(/[.:]+$/, '');
    if (!scripts.has(name))
      findings.push({ page: page.path, line: lineOf(page.text, match.index!), what: `npm run ${name}` });
  }
  return findings;
}

// ---------------------------------------------------------------------------
// operator commands

/**
 * The commands `npm run ops` accepts, read from scripts/ops.ts as it declares them: the `case`s
 * of its dispatch, the commands it handles before the dispatch (`argv[0] === '...'`), and the
 * `*_COMMANDS` sets it imports from its backends (`modules` maps an import path to its text).
 */
export function opsCommandsOf(opsScript: string, modules: (importPath: string) => string): Set<string> {
  const commands = new Set<string>();
  for (const match of opsScript.matchAll(/\bcase '([a-z][a-z-]*)':/g)) commands.add(match[1]!);
  for (const match of opsScript.matchAll(/\bargv\[0\] === '([a-z][a-z-]*)'/g)) commands.add(match[1]!);
  for (const match of opsScript.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
    const sets = match[1]!
      .split(',')
      .map((name) => name.trim())
      .filter((name) => /^[A-Z_]+_COMMANDS$/.test(name));
    if (sets.length === 0) continue;
    const backend = modules(match[2]!);
    for (const set of sets) {
      const declared = new RegExp(`${set}\\s*=\\s*new Set\\(\\[([^\\]]*)\\]`).exec(backend);
      if (!declared) throw new Error(`${match[2]} declares no ${set} = new Set([...])`);
      for (const name of declared[1]!.matchAll(/'([^']+)'/g)) commands.add(name[1]!);
    }
  }
  return commands;
}

/** `npm run ops -- <command>` the page names that scripts/ops.ts does not accept. */
export function unknownOpsCommands(page: Page, commands: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const match of page.text.matchAll(/\bnpm run ops -- ([^\s`]+)/g)) {
    // A table cell may name several, escaped: list\|show.
    for (const name of match[1]!.split(/\\?\|/)) {
      if (/^[<$-]/.test(name) || name === '') continue; // a placeholder (<command>) or an option
      if (!commands.has(name))
        findings.push({ page: page.path, line: lineOf(page.text, match.index!), what: `npm run ops -- ${name}` });
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------
// settings

const SETTING = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
/** A setting with a placeholder, as a table names a family: `<SERVICE>_DATABASE_URL`. */
const SETTING_PATTERN = /^(?:<[A-Z]+>|[A-Z0-9])(?:[A-Z0-9_]|<[A-Z]+>)*$/;

/**
 * Leading `NAME=value` assignments of a shell line. They set the environment of a command when
 * the line goes on after them, or when exported; alone on a line, or with a value from `$(...)`,
 * they are shell variables (`API=http://...`, `TOKEN=$(curl ...)`), not settings.
 */
function assignments(line: string, alone: 'setting' | 'shell'): string[] {
  let rest = line.trim();
  const exported = /^export\s+/.test(rest);
  rest = rest.replace(/^export\s+/, '');
  const names: string[] = [];
  for (;;) {
    const match = /^([A-Z][A-Z0-9_]*)=/.exec(rest);
    if (!match) break;
    rest = rest.slice(match[0].length);
    if (rest.startsWith('$(')) return exported ? [...names, match[1]!] : [];
    const value = /^("[^"]*"|'[^']*'|\S*)/.exec(rest)![0];
    rest = rest.slice(value.length).trimStart();
    names.push(match[1]!);
  }
  if (names.length === 0) return [];
  return exported || rest !== '' || alone === 'setting' ? names : [];
}

/**
 * The settings a page names, by a rule precise enough to hold it to: every name in the first
 * column of a table whose first heading is "variable" or "setting"; every `NAME=value` that sets
 * a command's environment in a code block (`LOG_FORMAT=json npm start`, `export NAME=...`); and
 * every inline code span that starts `NAME=` (`ALLOW_DEV_TOKENS=true`).
 */
export function settingsNamed(page: Page): { name: string; line: number }[] {
  const named: { name: string; line: number }[] = [];
  const { code, prose } = split(page.text);
  const lines = prose.split('\n');
  let inSettingsTable = false;
  lines.forEach((line, index) => {
    const cells = /^\s*\|(.*)\|\s*$/.exec(line)?.[1]!.split(/(?<!\\)\|/);
    if (!cells) {
      inSettingsTable = false;
      return;
    }
    const first = cells[0]!.replace(/`/g, '').trim().toLowerCase();
    if (/^-+:?$|^:?-+:?$/.test(first)) return; // the separator row
    const previous = lines[index - 1] ?? '';
    if (!/^\s*\|/.test(previous)) {
      inSettingsTable = first === 'variable' || first === 'setting';
      return;
    }
    if (!inSettingsTable) return;
    for (const span of codeSpans(cells[0]!))
      if (SETTING.test(span.text) || SETTING_PATTERN.test(span.text)) named.push({ name: span.text, line: index + 1 });
  });
  for (const span of codeSpans(prose))
    for (const name of assignments(span.text, 'setting')) named.push({ name, line: lineOf(prose, span.index) });
  for (const { line, text } of code) for (const name of assignments(text, 'shell')) named.push({ name, line });
  return named;
}

/**
 * The environment variables a source file reads: `env.NAME` and `process.env.NAME` (not
 * `other.env.NAME`), `env['NAME']`, a helper given the environment and the name
 * (`integer(env, 'PORT', 3000)`), and, in a file that reads `env[name]`, a call with the name as
 * its one argument (`value('TEMPORAL_API_KEY')`).
 */
export function settingsRead(source: Source): Set<string> {
  const names = new Set<string>();
  const add = (pattern: RegExp) => {
    for (const match of source.text.matchAll(pattern)) names.add(match[1]!);
  };
  add(/(?<![\w.$])(?:process\.)?env\??\.([A-Z][A-Z0-9_]*)\b/g);
  add(/(?<![\w.$])(?:process\.)?env\??\.?\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g);
  add(/\(\s*(?:process\.)?env\s*,\s*['"]([A-Z][A-Z0-9_]*)['"]/g);
  if (/(?<![\w.$])env\??\.?\[\s*[a-z]\w*\s*\]/.test(source.text))
    add(/\b[a-z]\w*\(\s*'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'\s*\)/g);
  return names;
}

/** The variables docker-compose.yml takes from its environment or `.env`: `${NAME...}`. */
export function composeVariables(compose: string): Set<string> {
  return new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]!));
}

/** A name with a placeholder, `<SERVICE>_DATABASE_URL`, as the pattern of the names it stands for. */
const shapeOf = (name: string) => new RegExp(`^${name.replace(/<[A-Z]+>/g, '[A-Z0-9]+')}$`);

/** Whether a named setting is one of `known`; a placeholder name matches any name of its shape. */
function isKnown(name: string, known: ReadonlySet<string>): boolean {
  if (known.has(name)) return true;
  if (!name.includes('<')) return false;
  const shape = shapeOf(name);
  return [...known].some((candidate) => shape.test(candidate));
}

/** Settings the page names that nothing reads. */
export function unknownSettings(page: Page, read: ReadonlySet<string>): Finding[] {
  return settingsNamed(page)
    .filter(({ name }) => !isKnown(name, read))
    .map(({ name, line }) => ({ page: page.path, line, what: `setting ${name}` }));
}

/** Settings the code reads that the configuration page's tables lack. */
export function undocumentedSettings(configuration: Page, read: ReadonlySet<string>): string[] {
  const documented = settingsNamed(configuration).map(({ name }) => name);
  return [...read].filter((name) => !documented.some((entry) => entry === name || shapeOf(entry).test(name))).sort();
}

// ---------------------------------------------------------------------------
// routes

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `GET /v1/orders/:id` with every path parameter written alike (`:id`, `{id}`, `<id>` → `:`). */
export const routeKey = (method: string, path: string): string =>
  `${method} ${path.replace(/\?.*$/, '').replace(/(:\w+|\{\w+\}|<\w+>)/g, ':')}`;

/** The routes a page names as `METHOD /path`, outside code blocks (a curl line names no method this way). */
export function routesNamed(page: Page): { route: string; line: number }[] {
  const { prose } = split(page.text);
  return [...prose.matchAll(new RegExp(`\\b(${METHODS.join('|')}) (/[^\\s\`'")\\],]*)`, 'g'))].map((match) => ({
    route: routeKey(match[1]!, match[2]!.replace(/[.:]+$/, '')),
    line: lineOf(prose, match.index!),
  }));
}

/**
 * The routes of Fastify's `printRoutes({ commonPrefix: false })` tree, each method and full path
 * (HEAD and OPTIONS left out: Fastify adds them to every GET and for CORS).
 */
export function routesOfTree(tree: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const segments: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3}|[├└]── )*)(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match || match[2]!.trim() === '') continue;
    const depth = match[1]!.length / 4;
    segments.length = depth;
    segments[depth - 1] = match[2]!;
    const path = segments.join('');
    for (const method of (match[3] ?? '').split(',').map((name) => name.trim()))
      if ((METHODS as readonly string[]).includes(method)) routes.push({ method, path });
  }
  return routes;
}

/** Served routes the reference must list: not the dashboard's files, not the Swagger UI under /docs. */
export const isApiRoute = (route: string): boolean => {
  const path = route.slice(route.indexOf(' ') + 1);
  return path !== '/' && path !== '*' && !/^\/docs(\/|$)/.test(path) && !/\.[a-z0-9]+$/i.test(path);
};

/** Routes the page names that the app does not serve. */
export function unservedRoutes(page: Page, served: ReadonlySet<string>): Finding[] {
  return routesNamed(page)
    .filter(({ route }) => !served.has(route))
    .map(({ route, line }) => ({ page: page.path, line, what: route }));
}

/** Routes the app serves that the reference page does not name. */
export function unlistedRoutes(reference: Page, served: Iterable<string>): string[] {
  const listed = new Set(routesNamed(reference).map(({ route }) => route));
  return [...served].filter((route) => isApiRoute(route) && !listed.has(route)).sort();
}

// ---------------------------------------------------------------------------
// relative links

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens, repeats numbered. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of split(text).prose.split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** What a link checker may ask of the repository: whether a path exists, and a markdown file's text. */
export interface Tree {
  exists(path: string): boolean;
  read(path: string): string;
}

const resolvePath = (from: string, target: string): string => {
  const parts = from.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return parts.join('/');
};

/** Relative links (and images) whose file, or whose anchor in a markdown file, does not exist. */
export function brokenLinks(page: Page, tree: Tree): Finding[] {
  const findings: Finding[] = [];
  const prose = split(page.text).prose.replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
  for (const match of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [file, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = file === '' ? page.path : resolvePath(page.path, decodeURIComponent(file));
    const line = lineOf(prose, match.index!);
    if (!tree.exists(path)) findings.push({ page: page.path, line, what: `link to ${target}: no ${path}` });
    else if (anchor !== undefined && path.endsWith('.md') && !headingAnchors(tree.read(path)).has(anchor))
      findings.push({ page: page.path, line, what: `link to ${target}: no heading #${anchor} in ${path}` });
  }
  return findings;
}
