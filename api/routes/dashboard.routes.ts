/**
 * The dashboard at GET /: the static files of web/ (plain HTML, CSS and JavaScript, no build
 * step), served by @fastify/static. Only the files present at start are routes (`wildcard:
 * false`), so every other path still gets the API's 404 body.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import path from 'node:path';

export const DASHBOARD_ROOT = path.resolve(__dirname, '../../web');

export const dashboardRoutes: FastifyPluginAsync<{ root?: string }> = async (app, options) => {
  await app.register(fastifyStatic, {
    root: options.root ?? DASHBOARD_ROOT,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    // No content hashes in the file names: browsers revalidate (ETag) on every load.
    cacheControl: true,
    maxAge: 0,
  });
};
