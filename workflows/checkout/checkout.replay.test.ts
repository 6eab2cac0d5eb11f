/**
 * Replays every recorded history in workflows/histories/ against the current workflow code:
 * a change that would make running workflows take another path fails here, before it ships.
 * The histories hold encrypted payloads, as a deployment with PAYLOAD_ENCRYPTION_KEYS stores
 * them; the replayer decodes them with the recorder's test-only key.
 */
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type ReplayResult,
  type WorkflowBundle,
} from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { HISTORY_TEST_ENCRYPTION_KEYS, historyDataConverter } from '../../harness/history-encryption';
import { bundleVariant, VARIANTS } from '../../harness/workflow-variants';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../temporal/payload-codec';
import { PATCHES } from './checkout.workflow';

const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
const files = readdirSync(HISTORIES_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort();

function histories() {
  return files.map((file) => ({
    workflowId: path.basename(file, '.json'),
    history: JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')),
  }));
}

/** The patch ids a history recorded (each in a `core_patch` marker, as base64 JSON). */
function patchesIn(file: string): string[] {
  const { events } = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
    events: {
      markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> };
    }[];
  };
  return events
    .map((event) => event.markerRecordedEventAttributes)
    .filter((marker) => marker?.markerName === 'core_patch')
    .map(
      (marker) =>
        (
          JSON.parse(Buffer.from(marker!.details['patch-data']!.payloads[0]!.data, 'base64').toString()) as {
            id: string;
          }
        ).id,
    );
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const text = (base64: string | undefined): string => Buffer.from(base64 ?? '', 'base64').toString('utf8');

/**
 * Every payload of a history, as the CLI's JSON writes them, but the search attributes: those the
 * server indexes, so they are in clear by design (`CustomerId` is an operator's query), and the
 * patch markers, whose data Temporal's core writes after the codec has run.
 */
function payloadsOf(node: unknown): JsonPayload[] {
  if (Array.isArray(node)) return node.flatMap(payloadsOf);
  if (!node || typeof node !== 'object') return [];
  const object = node as Record<string, unknown>;
  if (object.markerName === 'core_patch') return [];
  if ('data' in object && 'metadata' in object) return [object as JsonPayload];
  return Object.entries(object).flatMap(([key, value]) => (key === 'searchAttributes' ? [] : payloadsOf(value)));
}

async function replayAll(workflowBundle: WorkflowBundle): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle, dataConverter: historyDataConverter() },
    histories(),
  ))
    results.push(result);
  return results;
}

beforeAll(() => {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
});

jest.setTimeout(60_000);

describe('recorded checkout histories', () => {
  it('cover every saga scenario, the notification workflow across a continue-as-new, and both sides of the one patch', () => {
    expect(files).toEqual(
      [
        'adopted-order-expires-with-lost-charge',
        'adopted-waiting-order',
        'cancelled',
        'cancelled-during-charge',
        'compensation-failed-operator-resolve',
        'compensation-failed-operator-retry',
        'declined-attempts-exhausted',
        'declined-then-paid',
        'declined-then-paid-notified',
        'expired',
        'notifications-continue-as-new',
        'out-of-stock',
        'paid',
        'payment-events-capped',
        'payment-racing-expiry',
        'processing-settled-by-webhook',
        'quota-rejected',
        'refund-after-later-failure',
        // The refund saga after the sale (scripts/refund-history-scenarios.ts).
        'refund-full',
        'refund-partial',
        'refund-refused',
        'rerun-of-ended-order',
        'workflow-cancelled',
      ]
        .map((name) => `${name}.json`)
        .sort(),
    );
  });

  it('hold every payload encrypted with the test-only key: no customer id, SKU or amount in clear', () => {
    const testKeyId = HISTORY_TEST_ENCRYPTION_KEYS.split(':')[0];
    for (const file of files) {
      const payloads = payloadsOf(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
      expect(payloads.length).toBeGreaterThan(0);
      const clear = payloads.filter(
        (payload) =>
          text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING ||
          text(payload.metadata?.[KEY_ID_METADATA]) !== testKeyId,
      );
      expect({ file, clear: clear.map((payload) => text(payload.data)) }).toEqual({ file, clear: [] });
      const leaked = ['history-customer', 'SKU-1', '2500'].filter((needle) =>
        payloads.some((payload) => text(payload.data).includes(needle)),
      );
      expect({ file, leaked }).toEqual({ file, leaked: [] });
    }
  });

  it('replay deterministically with the current workflow code', async () => {
    const results = await replayAll(
      await bundleWorkflowCode({ workflowsPath: require.resolve('../index'), logger: new DefaultLogger('ERROR') }),
    );
    expect(results).toHaveLength(files.length);
    for (const result of results) {
      expect({ history: result.workflowId, error: result.error?.message }).toEqual({
        history: result.workflowId,
        error: undefined,
      });
    }
  });

  it('hold the patches, with a history from before the worked example and those from after', () => {
    expect(patchesIn('declined-then-paid.json')).toEqual([]);
    expect(patchesIn('declined-then-paid-notified.json')).toEqual([PATCHES.notifyDeclinedPayment]);
    // The declines before the last one are each notified: the marker once, where the first notice runs.
    expect(patchesIn('declined-attempts-exhausted.json')).toEqual([PATCHES.notifyDeclinedPayment]);
    // A charge lost with an earlier run, given back when the adopted order expires.
    expect(patchesIn('adopted-order-expires-with-lost-charge.json')).toEqual([PATCHES.undoEarlierCharges]);
    expect(files.filter((file) => patchesIn(file).length > 0)).toEqual([
      'adopted-order-expires-with-lost-charge.json',
      'declined-attempts-exhausted.json',
      'declined-then-paid-notified.json',
    ]);
  });

  // Each planted change must fail exactly the histories whose workflows reached the changed code, and
  // pass the others: a replay tier that failed everything, or nothing, would prove nothing.
  it.each([
    [
      'two forward steps swapped (cart before PAID)',
      VARIANTS.stepsSwapped,
      // Every history that reached the sale, the adopted order's too.
      [
        'adopted-waiting-order',
        'declined-then-paid',
        'declined-then-paid-notified',
        'paid',
        'payment-events-capped',
        'payment-racing-expiry',
        'processing-settled-by-webhook',
      ],
    ],
    [
      'the undo order reversed',
      VARIANTS.undoOrderReversed,
      // Every history that undid two steps or more; a quota refusal too, since the stock is reserved beside the quota check.
      [
        'adopted-order-expires-with-lost-charge',
        'cancelled',
        'cancelled-during-charge',
        'compensation-failed-operator-resolve',
        'compensation-failed-operator-retry',
        'declined-attempts-exhausted',
        'expired',
        'out-of-stock',
        'quota-rejected',
        'refund-after-later-failure',
        'workflow-cancelled',
      ],
    ],
    // Both sides of the patch reach it: the old history lacks the notice, the new one has a marker no code asks
    // about. (Removing a patch goes through deprecatePatch() first: docs/changing-workflows.md.)
    [
      'the patch guard dropped',
      VARIANTS.patchGuardDropped,
      ['declined-attempts-exhausted', 'declined-then-paid', 'declined-then-paid-notified'],
    ],
    // Only the history whose cancel arrived while its charge was in flight: there the charge was refunded, not sold.
    ['a cancel during the charge ignored', VARIANTS.cancelDuringChargeIgnored, ['cancelled-during-charge']],
    // Only the history whose webhook verdict arrived past the cap on kept events; the few events of a plain
    // processing charge are all kept, and their verdict still settles it.
    ['a webhook verdict past the cap dropped', VARIANTS.verdictPastCapDropped, ['payment-events-capped']],
  ])('fail where the workflow reached it, and only there: %s', async (_name, variant, failing) => {
    const results = await replayAll(await bundleVariant(variant));
    expect(results).toHaveLength(files.length);
    const failed = results
      .filter((result) => result.error)
      .map((result) => result.workflowId)
      .sort();
    expect(failed).toEqual(failing);
    for (const result of results.filter((r) => r.error)) expect(result.error?.name).toBe('DeterminismViolationError');
  });
});
