/** What a test's promise was rejected with, for tests of the failures a call ends in. */

/** The reason `promise` was rejected with; a promise that resolves instead fails the test, naming its value. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
}

/** The error `promise` was rejected with, asserted to be a `type` (a domain error class, so its code can be read). */
export async function errorOf<E>(type: abstract new (...args: never[]) => E, promise: Promise<unknown>): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
