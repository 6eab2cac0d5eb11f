/**
 * Structured logs for the workers: one JSON object per line, with the order id and the
 * workflow id on every line that concerns an order, whether it comes from workflow code
 * (the workflow logger, through the SDK's sinks), from an activity, or from the SDK itself.
 * The lines are pino's, as the API's Fastify logger writes them (numeric `level`, `time` in epoch
 * milliseconds, `pid`, `hostname`, `msg`), so one reader (pino-pretty, a log shipper) takes both.
 */
import os from 'node:os';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

export const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export interface JsonLoggerOptions {
  /** Lines below this level are dropped (default INFO). */
  level?: LogLevel;
  /** Fields on every line, e.g. `{ service: 'worker' }`. */
  base?: Record<string, unknown>;
  /** Where lines go (default: stdout). */
  write?: (line: string) => void;
}

/** A Logger that drops everything: for test and benchmark harnesses whose output is their own report. */
export const SILENT_LOGGER: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Temporal's Logger interface, writing JSON lines. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.base ?? {};
  return new DefaultLogger(options.level ?? 'INFO', (entry: LogEntry) => write(toJsonLine(entry, base)));
}

/** Attributes that only add noise to a line (the task token is an opaque base64 blob). */
const DROPPED = new Set(['taskToken']);

/** pino's numeric levels. */
export const PINO_LEVELS: Readonly<Record<LogLevel, number>> = { TRACE: 10, DEBUG: 20, INFO: 30, WARN: 40, ERROR: 50 };

const HOSTNAME = os.hostname();

export function toJsonLine(entry: LogEntry, base: Record<string, unknown> = {}): string {
  const record: Record<string, unknown> = {
    level: PINO_LEVELS[entry.level],
    time: Number(entry.timestampNanos / 1_000_000n),
    pid: process.pid,
    hostname: HOSTNAME,
    ...base,
    ...orderContext(entry.meta),
  };
  for (const [key, value] of Object.entries(entry.meta ?? {})) {
    if (!DROPPED.has(key) && value !== undefined) record[key] = value;
  }
  record.msg = entry.message;
  return JSON.stringify(record, jsonReplacer);
}

/**
 * Checkout workflows are `order-<orderId>` and notification workflows `notifications-<userId>`
 * (workflows/contract.ts): every line that names the workflow, from the workflow itself or from
 * one of its activities, thereby also names the order or the user.
 */
export function orderContext(meta: LogMetadata | undefined): Record<string, string> {
  const workflowId = meta?.workflowId;
  if (typeof workflowId !== 'string') return {};
  const order = /^order-(.+)$/.exec(workflowId);
  if (order) return { orderId: order[1]! };
  const user = /^notifications-(.+)$/.exec(workflowId);
  if (user) return { userId: user[1]! };
  return {};
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const failure = value as Error & { type?: unknown; cause?: unknown };
    return {
      name: failure.name,
      message: failure.message,
      ...(failure.type !== undefined ? { type: failure.type } : {}),
      ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
      stack: failure.stack,
    };
  }
  return value;
}

/** `LOG_LEVEL` (trace, debug, info, warn, error; default info). */
export function logLevelFromEnv(env: Record<string, string | undefined> = process.env): LogLevel {
  const raw = (env.LOG_LEVEL ?? '').trim().toUpperCase();
  if (raw === '') return 'INFO';
  if (!(LOG_LEVELS as string[]).includes(raw))
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ').toLowerCase()}, got "${env.LOG_LEVEL}"`);
  return raw as LogLevel;
}
