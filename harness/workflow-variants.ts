/**
 * Planted variants of the real workflow code, for the replay tier and the history recorder: the
 * checkout with two steps swapped, its undos run in the wrong order, its patch guard dropped, a
 * cancel during a charge ignored, a webhook verdict past the events' cap dropped, or from before
 * its patch. Each variant is a text edit of the real files, written beside them (so
 * their relative imports resolve), bundled, and removed again. An edit that no longer finds its
 * text fails loudly: a refactor must move the variant along, not silently plant nothing.
 */
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SILENT_LOGGER } from '../lib/logging';

const WORKFLOWS_DIR = path.resolve(__dirname, '../workflows');

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
      saga: [
        [
          'for (let next = this.undos.pop(); next; next = this.undos.pop())',
          'for (let next = this.undos.shift(); next; next = this.undos.shift())',
        ],
      ],
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

/** Bundles the workflows (both workflow types) with the variant's edits applied. */
export async function bundleVariant(variant: WorkflowVariant): Promise<WorkflowBundle> {
  const suffix = `.variant-${variant.name}`;
  // The index imports the checkout, the checkout imports the saga: copy the checkout always, so an
  // edited saga is the one it imports.
  const copied = [...new Set(['checkout/checkout.workflow', ...Object.keys(variant.edits)])];
  const written: string[] = [];
  // Points every import of a copied file, from the file at `from` (a path under workflows/), at its copy.
  const rewriteImports = (from: string, source: string) =>
    copied.reduce((text, file) => {
      let specifier = path.posix.relative(path.posix.dirname(from), file);
      if (!specifier.startsWith('.')) specifier = `./${specifier}`;
      return text.split(`'${specifier}'`).join(`'${specifier}${suffix}'`);
    }, source);
  try {
    for (const file of copied) {
      let source = readFileSync(path.join(WORKFLOWS_DIR, `${file}.ts`), 'utf8');
      for (const [find, replace] of variant.edits[file] ?? []) {
        if (!source.includes(find))
          throw new Error(
            `variant ${variant.name}: ${file}.ts no longer contains ${JSON.stringify(find.slice(0, 80))}`,
          );
        source = source.replace(find, replace);
      }
      written.push(path.join(WORKFLOWS_DIR, `${file}${suffix}.ts`));
      writeFileSync(written.at(-1)!, rewriteImports(file, source));
    }
    const index = path.join(WORKFLOWS_DIR, `index${suffix}.ts`);
    written.push(index);
    writeFileSync(index, rewriteImports('index', readFileSync(path.join(WORKFLOWS_DIR, 'index.ts'), 'utf8')));
    return await bundleWorkflowCode({ workflowsPath: index, logger: SILENT_LOGGER });
  } finally {
    for (const file of written) rmSync(file, { force: true });
  }
}
