/**
 * The worker process's Temporal Runtime: JSON logs (lib/logging.ts), Core's own log lines
 * forwarded into them, and the SDK's metrics served in Prometheus format.
 *
 * `WORKER_METRICS_PORT` (default 9464, `0` turns the exporter off) and `WORKER_METRICS_HOST`
 * (default 127.0.0.1; 0.0.0.0 in containers) say where `GET /metrics` is served. A port set
 * explicitly must be free, or the worker refuses to start; the default port, when another
 * process (e.g. a second local worker) already holds it, only costs this worker its metrics,
 * with a warning, so several workers can run on one machine without any setting.
 */
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import type { Logger } from '@temporalio/common';
import { createJsonLogger, logLevelFromEnv } from '../lib/logging';

export const DEFAULT_WORKER_METRICS_PORT = 9464;

type Env = Record<string, string | undefined>;

export interface WorkerTelemetrySettings {
  /** Where the Prometheus exporter listens; undefined when turned off. */
  metricsAddress: string | undefined;
  /** Whether the port was chosen by the operator (then a taken port is an error). */
  metricsPortExplicit: boolean;
  logLevel: ReturnType<typeof logLevelFromEnv>;
}

export function workerTelemetryFromEnv(env: Env = process.env): WorkerTelemetrySettings {
  const raw = env.WORKER_METRICS_PORT?.trim() ?? '';
  const port = raw === '' ? DEFAULT_WORKER_METRICS_PORT : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`WORKER_METRICS_PORT must be a port number (0 turns metrics off), got "${raw}"`);
  const host = env.WORKER_METRICS_HOST?.trim() || '127.0.0.1';
  return {
    metricsAddress: port === 0 ? undefined : `${host}:${port}`,
    metricsPortExplicit: raw !== '',
    logLevel: logLevelFromEnv(env),
  };
}

/**
 * Metric options shared by every exporter: durations in seconds, as Prometheus expects
 * (names stay Core's: e.g. `temporal_workflow_task_schedule_to_start_latency_bucket`).
 */
export function prometheusOptions(
  bindAddress: string,
): NonNullable<NonNullable<RuntimeOptions['telemetryOptions']>['metrics']> {
  return { prometheus: { bindAddress, useSecondsForDurations: true } };
}

export interface InstalledRuntime {
  logger: Logger;
  /**
   * For the worker's lifecycle lines (ready, metrics off), written at any LOG_LEVEL: the
   * launcher and tests wait for the "workers polling" line even when they ask for warn.
   */
  lifecycle: Logger;
  /** The Prometheus scrape URL, when the exporter runs. */
  metricsUrl: string | undefined;
}

/** Installs the process's Runtime once, before any connection or worker is created. */
export function installWorkerRuntime(
  settings: WorkerTelemetrySettings,
  options: { shutdownSignals?: NodeJS.Signals[] } = {},
): InstalledRuntime {
  const logger = createJsonLogger({ level: settings.logLevel, base: { service: 'worker' } });
  const lifecycle = createJsonLogger({ level: 'TRACE', base: { service: 'worker' } });
  const base: RuntimeOptions = {
    logger,
    shutdownSignals: options.shutdownSignals ?? ['SIGINT', 'SIGTERM'],
    // Core's own warnings (failed workflow tasks, lost polls) become JSON lines too.
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
  };
  if (!settings.metricsAddress) {
    Runtime.install(base);
    return { logger, lifecycle, metricsUrl: undefined };
  }
  try {
    Runtime.install({
      ...base,
      telemetryOptions: { ...base.telemetryOptions, metrics: prometheusOptions(settings.metricsAddress) },
    });
    return { logger, lifecycle, metricsUrl: `http://${settings.metricsAddress}/metrics` };
  } catch (error) {
    if (settings.metricsPortExplicit)
      throw new Error(
        `Cannot serve worker metrics on ${settings.metricsAddress} (WORKER_METRICS_PORT): ${(error as Error).message}`,
      );
    Runtime.install(base);
    lifecycle.warn(
      `Worker metrics are off: ${settings.metricsAddress} is taken (set WORKER_METRICS_PORT to another port, or 0)`,
      {
        error: (error as Error).message,
      },
    );
    return { logger, lifecycle, metricsUrl: undefined };
  }
}
