/** The durations operators type (`--since 7d`, `--older-than 10m`), in one notation. */
import { OperationError } from './orders';

const DURATION = /^(\d+)\s*(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `7d`, `12h`, `10m`, `30s` in milliseconds; `0s` only where `allowZero` says so. */
export function parseDuration(raw: string, flag: string, options: { allowZero?: boolean } = {}): number {
  const match = DURATION.exec(raw.trim());
  if (!match || (Number(match[1]) === 0 && !options.allowZero))
    throw new OperationError(`--${flag} is a duration such as 7d, 12h, 10m or 30s, got "${raw}"`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
