/**
 * Replays every recorded history in workflows/histories/ against the current workflow code:
 * a change that would make running workflows take another path fails here, before it ships.
 */
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PATCHES } from './checkout.workflow';

const HISTORIES_DIR = path.join(__dirname, 'histories');
const files = readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json')).sort();

function histories() {
  return files.map((file) => ({ workflowId: path.basename(file, '.json'), history: JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) }));
}

/** The patch ids a history recorded (each in a `core_patch` marker, as base64 JSON). */
function patchesIn(file: string): string[] {
  const { events } = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
    events: { markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> } }[];
  };
  return events
    .map((event) => event.markerRecordedEventAttributes)
    .filter((marker) => marker?.markerName === 'core_patch')
    .map((marker) => (JSON.parse(Buffer.from(marker!.details['patch-data']!.payloads[0]!.data, 'base64').toString()) as { id: string }).id);
}

async function replayAll(workflowsPath: string): Promise<ReplayResult[]> {
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('ERROR') });
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories())) results.push(result);
  return results;
}

beforeAll(() => {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
});

jest.setTimeout(60_000);

describe('recorded checkout histories', () => {
  it('cover every saga scenario', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'paid.json', 'expired.json', 'cancelled.json', 'out-of-stock.json', 'quota-rejected.json', 'declined-then-paid.json',
        'refund-after-later-failure.json', 'compensation-failed-operator-retry.json', 'payment-racing-expiry.json',
      ]),
    );
  });

  it('replay deterministically with the current workflow code', async () => {
    const results = await replayAll(require.resolve('./index'));
    expect(results).toHaveLength(files.length);
    for (const result of results) {
      expect({ history: result.workflowId, error: result.error?.message }).toEqual({ history: result.workflowId, error: undefined });
    }
  });

  it('include a history from before and one from after each patched() change', () => {
    expect(patchesIn('declined-then-paid.json')).toEqual([]);
    expect(patchesIn('declined-then-paid-notified.json')).toEqual([PATCHES.notifyDeclinedPayment]);
    expect(patchesIn('expired.json')).toEqual([]);
    expect(patchesIn('expired-at-expires-at.json')).toEqual([PATCHES.expireAtExpiresAt]);
    expect(patchesIn('paid.json')).toEqual([]);
    expect(patchesIn('paid-status-persisted.json')).toEqual([PATCHES.persistStatusDirectly, PATCHES.expireAtExpiresAt]);
  });

  it('fail with a planted nondeterministic change', async () => {
    const results = await replayAll(path.resolve(__dirname, '../test/fixtures/nondeterministic-checkout'));
    expect(results).toHaveLength(files.length);
    for (const result of results) {
      expect(result.error?.name).toBe('DeterminismViolationError');
    }
  });
});
