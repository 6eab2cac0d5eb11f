/** /readyz is unauthenticated, so it is cheap: one round of probes serves every caller for a second, and callers during a check share it. */
import Fastify from 'fastify';
import { databaseProbes } from '../probes';
import { healthRoutes, type ReadinessProbe } from './health.routes';
import { SERVICES } from '../../lib/service-names';

function countingProbe(
  name: string,
  outcome: () => Promise<void> = async () => undefined,
): ReadinessProbe & { calls: number } {
  const probe = {
    name,
    calls: 0,
    check: async () => {
      probe.calls += 1;
      await outcome();
    },
  };
  return probe;
}

async function appWith(probes: ReadinessProbe[], clock: { now: number }) {
  const app = Fastify();
  await app.register(healthRoutes, { probes, probeTimeoutMs: 1_000, cacheMs: 1_000, now: () => clock.now });
  await app.ready();
  return app;
}

test('a flood of /readyz runs each probe once per second, and the cached answer is the checked one', async () => {
  const clock = { now: 0 };
  let up = true;
  const database = countingProbe('database:orders', async () => {
    if (!up) throw new Error('down');
  });
  const app = await appWith([database], clock);
  try {
    const flood = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'GET', url: '/readyz' })));
    expect(new Set(flood.map((r) => r.statusCode))).toEqual(new Set([200]));
    expect(database.calls).toBe(1);

    up = false;
    clock.now = 999;
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect(database.calls).toBe(1);

    clock.now = 1_000;
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect([down.statusCode, down.json().down]).toEqual([503, ['database:orders']]);
    expect(database.calls).toBe(2);
  } finally {
    await app.close();
  }
});

test('the database probes ask the service pools, one per database', async () => {
  const pinged: string[] = [];
  const probes = databaseProbes({ ping: async (service) => void pinged.push(service) });
  await Promise.all(probes.map((probe) => probe.check()));
  expect(probes.map((p) => p.name)).toEqual(SERVICES.map((s) => `database:${s}`));
  expect(pinged).toEqual([...SERVICES]);
});
