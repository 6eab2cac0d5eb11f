/** The baseline's activity: registered on every service queue next to the real ones, it does nothing. */
export interface BenchNoopInput {
  step: string;
  orderId: string;
}

export function createNoopActivities() {
  return {
    async benchNoop(_input: BenchNoopInput): Promise<{ ok: true }> {
      return { ok: true };
    },
  };
}

export type BenchNoopActivities = ReturnType<typeof createNoopActivities>;
