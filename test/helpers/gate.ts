/** A gate a test holds an activity at, to make something else happen while that activity is mid-flight. */

export interface Gate {
  /** Resolves when the held activity has arrived at the gate. */
  started: Promise<void>;
  /** Lets the held activity through. */
  open(): void;
  /** Arrives at the gate and waits there until it opens. */
  pass(): Promise<void>;
  /** `activity`, held at its start until the gate opens, then run for real. */
  hold<I, R>(activity: (input: I) => Promise<R>): (input: I) => Promise<R>;
}

/** A closed gate: `started` resolves when an activity arrives, `open()` lets it through. */
export function gate(): Gate {
  let arrived!: () => void;
  let open!: () => void;
  const started = new Promise<void>((resolve) => (arrived = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  const pass = async () => {
    arrived();
    await opened;
  };
  return {
    started,
    open,
    pass,
    hold: (activity) => async (input) => {
      await pass();
      return activity(input);
    },
  };
}
