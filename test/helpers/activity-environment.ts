/** A Temporal activity environment for activity tests, quiet but for errors. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';

/** MockActivityEnvironment whose run() keeps the activity's result type. */
export class TypedActivityEnvironment {
  private readonly env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  run<I, R>(activity: (input: I) => Promise<R>, input: I): Promise<R> {
    return this.env.run(activity, input) as Promise<R>;
  }
}
