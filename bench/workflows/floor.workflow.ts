/**
 * The floor benchmark's workflow: the least a placement can cost on this server and worker.
 * Started by update-with-start; its `floorPlaced` update (like the saga's `placed`) answers once
 * `steps` sequential no-op activities on the orders queue have completed. The difference between
 * 4 steps and 1 step is the cost of one sequential activity (two task dispatches, one workflow
 * task, one activity).
 */
import { allHandlersFinished, condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import { ACTIVITY_OPTIONS } from '../../workflows/activity-options';
import type { BenchNoopActivities } from '../lib/noop-activities';

export interface FloorInput {
  orderId: string;
  steps: number;
}

export const floorPlacedUpdate = defineUpdate<{ steps: number }>('floorPlaced');

const { benchNoop } = proxyActivities<BenchNoopActivities>(ACTIVITY_OPTIONS.orders);

export async function floorWorkflow(input: FloorInput): Promise<{ steps: number }> {
  let done = 0;
  setHandler(floorPlacedUpdate, async () => {
    await condition(() => done === input.steps);
    return { steps: done };
  });
  for (let step = 0; step < input.steps; step++) {
    await benchNoop({ step: `floor-${step}`, orderId: input.orderId });
    done += 1;
  }
  await condition(allHandlersFinished);
  return { steps: done };
}
