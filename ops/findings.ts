/**
 * The operator's commands for the reconciler's findings (docs/reconciler.md): list what drifted
 * and resolve an entry once it is dealt with. They talk to the orders database
 * (ORDERS_DATABASE_URL or DATABASE_URL), where the scheduled reconciler records its findings.
 */
import { OperationError } from './orders';
import {
  FINDING_STATUSES,
  type Finding,
  type FindingsService,
  type FindingStatus,
} from '../services/orders/findings.service';
import { isUuid } from '../lib/ids';

export const FINDING_USAGE = `  findings [--status OPEN|RESOLVED|GONE|any] [--limit N] [--json]
                                                           the scheduled reconciler's findings (default OPEN)
  resolve-finding <findingId> --note TEXT                  the drift is dealt with: close the finding, saying how`;

export const FINDING_COMMANDS = new Set(['findings', 'resolve-finding']);

export interface FindingCommandInput {
  command: string;
  positional: readonly string[];
  status?: string;
  limit: number;
  note?: string;
  json: boolean;
  /** Who resolves: the operator's user and host, as the Temporal commands identify them. */
  operator: string;
}

const day = (date: Date | null) => (date ? date.toISOString().replace(/\.\d+Z$/, 'Z') : '-');

export function formatFindings(findings: readonly Finding[], status: string): string {
  if (findings.length === 0) return `no ${status === 'any' ? '' : `${status} `}findings`;
  const lines: string[] = [];
  for (const f of findings) {
    const subject = f.orderId
      ? `order ${f.orderId}`
      : f.productId
        ? `product ${f.productId}`
        : f.key.slice(f.invariant.length + 1);
    lines.push(`${f.id}  ${f.status.padEnd(8)} ${f.invariant.padEnd(22)} ${subject}`);
    lines.push(`    ${f.detail}`);
    lines.push(
      `    first seen ${day(f.firstSeen)}, last seen ${day(f.lastSeen)} (${f.seenCount} run${f.seenCount === 1 ? '' : 's'})`,
    );
    if (f.status !== 'OPEN')
      lines.push(`    closed ${day(f.closedAt)} by ${f.closedBy ?? '?'}${f.note ? `: ${f.note}` : ''}`);
  }
  lines.push(
    `${findings.length} finding(s)${findings.some((f) => f.status === 'OPEN') ? '; resolve one with npm run ops -- resolve-finding <findingId> --note "what was done"' : ''}`,
  );
  return lines.join('\n');
}

export async function runFindingCommand(
  input: FindingCommandInput,
  findings: FindingsService,
  out: (line: string) => void,
): Promise<number> {
  switch (input.command) {
    case 'findings': {
      const raw = input.status ?? 'OPEN';
      const status = raw.toLowerCase() === 'any' ? 'any' : (raw.toUpperCase() as FindingStatus);
      if (status !== 'any' && !FINDING_STATUSES.includes(status))
        throw new OperationError(`--status must be one of ${FINDING_STATUSES.join(', ')} or any, got "${raw}"`);
      const listed = await findings.list({ status, limit: input.limit });
      out(input.json ? JSON.stringify(listed, null, 2) : formatFindings(listed, status));
      return 0;
    }
    case 'resolve-finding': {
      const id = input.positional[0];
      if (!id || !isUuid(id))
        throw new OperationError(
          `resolve-finding needs a finding id (a UUID, from npm run ops -- findings)\n${FINDING_USAGE}`,
        );
      if (!input.note?.trim())
        throw new OperationError('resolve-finding needs --note "what was done", for whoever reads the finding next');
      const resolved = await findings.resolve(id, { by: input.operator, note: input.note.trim() });
      if (!resolved) {
        const known = await findings.get(id);
        throw new OperationError(
          known
            ? `Finding ${id} is ${known.status} already${known.closedBy ? ` (closed by ${known.closedBy})` : ''}`
            : `No finding ${id}`,
        );
      }
      out(
        input.json
          ? JSON.stringify(resolved, null, 2)
          : `resolved finding ${id} (${resolved.invariant}: ${resolved.detail})`,
      );
      out('if the drift is still there, the next scheduled run opens a new finding for it');
      return 0;
    }
    default:
      throw new OperationError(`unknown command "${input.command}"\n${FINDING_USAGE}`);
  }
}
