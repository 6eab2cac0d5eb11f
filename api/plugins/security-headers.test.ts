import Fastify from 'fastify';
import helmet from 'helmet';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { securityHeaders } from './security-headers';

/** The headers Helmet's own middleware sends on a real HTTP response, by lower-case name. */
async function headersFromHelmetMiddleware(): Promise<Record<string, string>> {
  const middleware = helmet();
  const server: Server = createServer((request, response) =>
    middleware(request, response, () => {
      response.end('ok');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/`);
    return Object.fromEntries(response.headers.entries());
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Headers every HTTP response has, whoever sends it. */
const TRANSPORT_HEADERS = ['date', 'connection', 'keep-alive', 'content-length', 'content-type', 'transfer-encoding'];

test("every response, an error or a 404 as much as a success, carries exactly the headers Helmet's middleware sets", async () => {
  const expected = await headersFromHelmetMiddleware();
  for (const name of TRANSPORT_HEADERS) delete expected[name];
  expect(expected['content-security-policy']).toContain("default-src 'self'");
  expect(expected['strict-transport-security']).toMatch(/max-age=\d+/);

  const app = Fastify();
  await app.register(securityHeaders, {});
  app.get('/ok', async () => ({ ok: true }));
  app.get('/fails', async () => {
    throw Object.assign(new Error('no'), { statusCode: 409 });
  });
  for (const url of ['/ok', '/fails', '/missing']) {
    const response = await app.inject({ method: 'GET', url });
    for (const [name, value] of Object.entries(expected))
      expect([url, name, response.headers[name]]).toEqual([url, name, value]);
    expect(response.headers['x-powered-by']).toBeUndefined();
  }
  await app.close();
});
