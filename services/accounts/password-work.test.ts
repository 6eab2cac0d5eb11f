import { errorOf } from '../../test/helpers/rejections';
import { AccountsError } from './errors';
import { PasswordWork } from './password-work';

/** A piece of work that runs until the test lets it finish. */
function held() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let started = false;
  return {
    work: async () => {
      started = true;
      await done;
    },
    finish,
    started: () => started,
  };
}

describe('the bound on password work', () => {
  it('runs at most `concurrency` at once, queues `queue` more and refuses the next at once with AUTH_BUSY', async () => {
    const work = new PasswordWork({ concurrency: 2, queue: 1 });
    const [a, b, c] = [held(), held(), held()];
    const running = [work.run(a.work), work.run(b.work), work.run(c.work)];
    expect(work.load()).toEqual({ running: 2, waiting: 1 });
    expect([a.started(), b.started(), c.started()]).toEqual([true, true, false]);

    const refused = await errorOf(
      AccountsError,
      work.run(async () => 'never'),
    );
    expect([refused.code, refused.details?.retryAfterSeconds]).toEqual(['AUTH_BUSY', 1]);

    a.finish();
    await running[0];
    // The freed slot went to the waiting call: still two running, none waiting, room for one more.
    expect(c.started()).toBe(true);
    expect(work.load()).toEqual({ running: 2, waiting: 0 });
    b.finish();
    c.finish();
    await Promise.all(running);
    expect(work.load()).toEqual({ running: 0, waiting: 0 });
    await expect(work.run(async () => 'ran')).resolves.toBe('ran');
  });

  it('frees the slot of work that fails', async () => {
    const work = new PasswordWork({ concurrency: 1, queue: 0 });
    await expect(
      work.run(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(work.run(async () => 'next')).resolves.toBe('next');
  });
});
