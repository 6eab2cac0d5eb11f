/**
 * Planted variants of the real workflow code, for the replay tier, the versioning drill, the
 * operators' replay gate and the history recorder: the checkout with two steps swapped, its undos
 * run in the wrong order, its patch guard dropped, a cancel during a charge ignored, a webhook
 * verdict past the events' cap dropped, or from before its patch. Each variant is a text edit of a
 * copy of the workflow code, written to a folder of its own for each bundling (so that test files
 * running at once never see or remove each other's variants), bundled, and removed again. An edit
 * that no longer finds its text fails loudly: a refactor must move the variant along, not silently
 * plant nothing.
 */
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SILENT_LOGGER } from '../lib/logging';

const ROOT = path.resolve(__dirname, '..');
/** What the workflow code imports at run time: its own folder and lib/ (every other import of it is `import type`, erased). */
const COPIED_DIRS = ['workflows', 'lib'];

export interface WorkflowVariant {
  name: string;
  /** Per file of workflows/ (its path there, without `.ts`), the text to find and what to put instead. */
  edits: Partial<Record<string, [find: string, replace: string][]>>;
}

export const VARIANTS = {
  /** Clears the cart before writing PAID: the order of two forward steps past the commit point. */
  stepsSwapped: {
    name: 'steps-swapped',
    edits: {
      'checkout/checkout.workflow': [
        [
          "    await this.forward('orderPaid', () => this.setStatus('PAID', {}, 'forward-only'));\n    if (this.requests.payment) this.requests.payment.settled = { paid: true };\n",
          '',
        ],
        [
          "    await this.forward('customerNotified',",
          "    await this.forward('orderPaid', () => this.setStatus('PAID', {}, 'forward-only'));\n    if (this.requests.payment) this.requests.payment.settled = { paid: true };\n    await this.forward('customerNotified',",
        ],
      ],
    },
  },
  /** Runs the undos oldest first. */
  undoOrderReversed: {
    name: 'undo-order-reversed',
    edits: {
      saga: [['const next = undos.pop();', 'const next = undos.shift();']],
    },
  },
  /** Notifies a decline without asking patched(): what the patch guards, shipped unguarded. */
  patchGuardDropped: {
    name: 'patch-guard-dropped',
    edits: {
      'checkout/checkout.workflow': [
        [
          'if (patched(PATCHES.notifyDeclinedPayment))\n        await notices.notifyDeclined(',
          'await notices.notifyDeclined(',
        ],
      ],
    },
  },
  /** Sells what a charge took when a cancel arrived during it, instead of refunding it. */
  cancelDuringChargeIgnored: {
    name: 'cancel-during-charge-ignored',
    edits: { 'checkout/checkout.workflow': [['if (requests.cancel) continue;', '']] },
  },
  /** Reads a webhook's verdict only from an event kept under the cap: a verdict arriving past it is lost. */
  verdictPastCapDropped: {
    name: 'verdict-past-cap-dropped',
    edits: {
      'checkout/charges': [
        [
          'this.webhookVerdict = notices.verdictOf(event) ?? this.webhookVerdict;\n    notices.keepPaymentEvent(this.state, event);',
          'const kept = (this.state.paymentEvents?.length ?? 0) < contract.MAX_KEPT_PAYMENT_EVENTS;\n    notices.keepPaymentEvent(this.state, event);\n    if (kept) this.webhookVerdict = notices.verdictOf(event) ?? this.webhookVerdict;',
        ],
      ],
    },
  },
  /** The checkout as it was before the declined-payment notice (records the "before" history of the worked patch). */
  beforeDeclinedNotice: {
    name: 'before-declined-notice',
    edits: {
      'checkout/checkout.workflow': [
        [
          'if (patched(PATCHES.notifyDeclinedPayment))\n        await notices.notifyDeclined(this.state, failure.message, refusal.details);',
          '',
        ],
      ],
    },
  },
} satisfies Record<string, WorkflowVariant>;

/**
 * Bundles the workflows (every workflow type) with the variant's edits applied, from a copy of the
 * code in a fresh temporary folder; its node_modules is a link to the project's, so packages
 * resolve as they do for the real code.
 */
export async function bundleVariant(variant: WorkflowVariant): Promise<WorkflowBundle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `storefront-variant-${variant.name}-`));
  try {
    for (const folder of COPIED_DIRS)
      cpSync(path.join(ROOT, folder), path.join(dir, folder), {
        recursive: true,
        filter: (source) => !/\.variant-|\.test\.ts$|\/histories(\/|$)/.test(source),
      });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    for (const [file, edits] of Object.entries(variant.edits)) {
      const target = path.join(dir, 'workflows', `${file}.ts`);
      let source = readFileSync(target, 'utf8');
      for (const [find, replace] of edits ?? []) {
        if (!source.includes(find))
          throw new Error(
            `variant ${variant.name}: ${file}.ts no longer contains ${JSON.stringify(find.slice(0, 80))}`,
          );
        source = source.replace(find, replace);
      }
      writeFileSync(target, source);
    }
    return await bundleWorkflowCode({ workflowsPath: path.join(dir, 'workflows', 'index.ts'), logger: SILENT_LOGGER });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
