/**
 * A saga: each step is declared with its undo, in the order the steps run; unwind() runs the undos
 * newest first, in a scope that cancellation cannot interrupt, and an undo that still fails after
 * its retries waits for an operator to retry it or to say it was done by hand.
 */
import { CancellationScope } from '@temporalio/workflow';

export type OperatorDecision = 'retry' | 'resolve';

/** What failed: an undo while the saga unwinds, or a step past the commit point that must go forward. */
export type StepKind = 'undo' | 'forward';

/** Where the saga writes down what it did, for the workflow's query. */
export interface SagaRecord<Step extends string> {
  completedSteps: Step[];
  compensatedSteps: string[];
}

export interface SagaHooks {
  /** An undo is about to run (for the operator's view of the workflow). */
  undoing?(step: string): void;
  /** A step failed past its retries: park the order and answer with the operator's decision. */
  stepFailed(step: string, kind: StepKind, error: unknown): Promise<OperatorDecision>;
}

/** One of the steps Saga.together() runs side by side: its name, its work and its undo. */
export interface SideStep<Step extends string, T> {
  name: Step;
  run: () => Promise<T>;
  undo?: () => Promise<unknown>;
}

/** A registered undo; undos of steps that ran side by side share a `together` number. */
interface Undo<Step extends string> {
  step: Step;
  undo: () => Promise<unknown>;
  together?: number;
}

/** Takes the next undos to run off the end of `undos` (newest last): the newest, with those of its side-by-side group. */
function takeBatch<Step extends string>(undos: Undo<Step>[]): Undo<Step>[] {
  const next = undos.pop();
  if (!next) return [];
  const batch = [next];
  while (next.together !== undefined && undos.at(-1)?.together === next.together) batch.push(undos.pop()!);
  return batch;
}

export class Saga<Step extends string> {
  /** Newest last. */
  private readonly undos: Undo<Step>[] = [];
  private togetherCalls = 0;

  constructor(
    private readonly record: SagaRecord<Step>,
    private readonly hooks: SagaHooks,
  ) {}

  /**
   * Registers the undo before the step runs (a step that timed out may still have happened; an undo
   * is idempotent and a no-op when its step never ran), runs the step, and records it once done.
   * A step attempted again (a second charge attempt) keeps the one undo it registered first.
   */
  async step<T>(name: Step, run: () => Promise<T>, undo?: () => Promise<unknown>): Promise<T> {
    if (undo && !this.hasUndo(name)) this.undos.push({ step: name, undo });
    const result = await run();
    if (!this.record.completedSteps.includes(name)) this.record.completedSteps.push(name);
    return result;
  }

  /**
   * Undoes now, ahead of the registered undos, a step an earlier run of this saga may have done (it
   * would be the newest): `undo` answers whether it found anything to undo, and only then is the
   * step recorded as undone. One that keeps failing waits for an operator, as any undo does.
   */
  async undoEarlier(name: Step, undo: () => Promise<boolean>): Promise<void> {
    this.hooks.undoing?.(name);
    await this.withOperatorFallback(name, 'undo', async () => {
      if (await undo()) this.record.compensatedSteps.push(name);
    });
  }

  /** Whether unwind() would undo the step: it ran and the commit point is not passed. */
  hasUndo(name: Step): boolean {
    return this.undos.some((registered) => registered.step === name);
  }

  /**
   * Steps that do not depend on each other, run side by side (one workflow task schedules them all).
   * Every undo is registered before any of them runs, in the order given; unwind() undoes them side
   * by side too (they are as independent as their steps), scheduled newest first and recorded newest
   * first as if they had run one after another. Each step done is recorded, in the order given. Settles once all have settled, with every outcome (failures included) in the
   * same order: the caller decides which failure speaks.
   */
  async together<const Results extends readonly unknown[]>(steps: {
    readonly [K in keyof Results]: SideStep<Step, Results[K]>;
  }): Promise<{ -readonly [K in keyof Results]: PromiseSettledResult<Results[K]> }> {
    const all = steps as readonly SideStep<Step, unknown>[];
    const together = ++this.togetherCalls;
    for (const { name, undo } of all) if (undo && !this.hasUndo(name)) this.undos.push({ step: name, undo, together });
    const outcomes = await Promise.allSettled(all.map((step) => step.run()));
    all.forEach((step, index) => {
      if (outcomes[index]!.status === 'fulfilled' && !this.record.completedSteps.includes(step.name))
        this.record.completedSteps.push(step.name);
    });
    return outcomes as { -readonly [K in keyof Results]: PromiseSettledResult<Results[K]> };
  }

  /** The commit point: from here the saga only goes forward, and nothing done so far is ever undone. */
  commit(): void {
    this.undos.length = 0;
  }

  /**
   * Runs the registered undos newest first, those of steps that ran side by side together (one
   * workflow task fewer per such group, and none waits for another); cancelling the workflow does
   * not interrupt it.
   */
  unwind(): Promise<void> {
    return CancellationScope.nonCancellable(async () => {
      for (let batch = takeBatch(this.undos); batch.length > 0; batch = takeBatch(this.undos)) {
        for (const undo of batch) this.hooks.undoing?.(undo.step);
        const outcomes = await Promise.allSettled(batch.map((undo) => undo.undo()));
        // An undo that failed past its retries asks the operator, one at a time, as if run alone.
        for (const [index, undo] of batch.entries()) {
          const outcome = outcomes[index]!;
          if (
            outcome.status === 'rejected' &&
            (await this.hooks.stepFailed(undo.step, 'undo', outcome.reason)) === 'retry'
          )
            await this.withOperatorFallback(undo.step, 'undo', undo.undo);
        }
        for (const undo of batch) this.record.compensatedSteps.push(undo.step);
      }
    });
  }

  /**
   * The undos unwind() would run now, in its order, running none: each inner list is undone side
   * by side. What `npm run ops -- what-if` shows an operator (the checkout's whatIf query).
   */
  plannedUnwind(): Step[][] {
    const pending = [...this.undos];
    const batches: Step[][] = [];
    for (let batch = takeBatch(pending); batch.length > 0; batch = takeBatch(pending))
      batches.push(batch.map((undo) => undo.step));
    return batches;
  }

  /** Runs `work` until it succeeds, asking the operator after each failure; 'resolve' stops asking. */
  async withOperatorFallback(step: string, kind: StepKind, work: () => Promise<unknown>): Promise<void> {
    for (;;) {
      try {
        await work();
        return;
      } catch (error) {
        if ((await this.hooks.stepFailed(step, kind, error)) === 'resolve') return;
      }
    }
  }
}
