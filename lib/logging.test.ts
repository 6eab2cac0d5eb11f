import { createJsonLogger, logLevelFromEnv, orderContext, toJsonLine } from './logging';
import { workerTelemetryFromEnv } from '../worker/telemetry';

const entry = (meta: Record<string, unknown>) => ({
  level: 'WARN' as const,
  message: 'Activity failed',
  timestampNanos: 1_700_000_000_123_000_000n,
  meta,
});

describe('JSON logs', () => {
  it('name the order and the workflow on every line of a checkout, from workflow or activity', () => {
    const line = JSON.parse(
      toJsonLine(
        entry({
          workflowId: 'order-6f1c',
          activityType: 'releaseStock',
          taskToken: 'opaque',
          error: new Error('database is read-only'),
        }),
        { service: 'worker' },
      ),
    );
    expect(line).toMatchObject({
      // pino's line, as the API writes it.
      time: 1_700_000_000_123,
      level: 40,
      pid: process.pid,
      hostname: expect.any(String),
      msg: 'Activity failed',
      service: 'worker',
      orderId: '6f1c',
      workflowId: 'order-6f1c',
      activityType: 'releaseStock',
      error: { name: 'Error', message: 'database is read-only' },
    });
    expect(line.taskToken).toBeUndefined();
  });

  it('name the user of a notification workflow, and nothing for other lines', () => {
    expect(orderContext({ workflowId: 'notifications-alice' })).toEqual({ userId: 'alice' });
    expect(orderContext({ taskQueue: 'checkout' })).toEqual({});
  });

  it('write one line per entry, dropping those below the level', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: 'INFO', write: (line) => lines.push(line) });
    logger.debug('hidden');
    logger.info('workers polling checkout', { bigint: 10n });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/workers? polling/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, bigint: '10' });
  });

  it('read LOG_LEVEL', () => {
    expect(logLevelFromEnv({})).toBe('INFO');
    expect(logLevelFromEnv({ LOG_LEVEL: 'debug' })).toBe('DEBUG');
    expect(() => logLevelFromEnv({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});

describe('worker metrics settings', () => {
  it('serve on 127.0.0.1:9464 unless told otherwise; 0 turns them off', () => {
    expect(workerTelemetryFromEnv({})).toMatchObject({ metricsAddress: '127.0.0.1:9464', metricsPortExplicit: false });
    expect(workerTelemetryFromEnv({ WORKER_METRICS_PORT: '9100', WORKER_METRICS_HOST: '0.0.0.0' })).toMatchObject({
      metricsAddress: '0.0.0.0:9100',
      metricsPortExplicit: true,
    });
    expect(workerTelemetryFromEnv({ WORKER_METRICS_PORT: '0' }).metricsAddress).toBeUndefined();
    expect(() => workerTelemetryFromEnv({ WORKER_METRICS_PORT: 'nine' })).toThrow(/WORKER_METRICS_PORT/);
  });
});
