/**
 * The Temporal worker process (lib/worker-process.ts): the `checkout` workflows and every
 * service's activities, or only those of `--services inventory,payments`.
 */
import { main } from './lib/worker-process';

main();
