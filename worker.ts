/**
 * The Temporal worker process (worker/process.ts): the `checkout` workflows and every
 * service's activities, or only those of `--services inventory,payments`.
 */
import { main } from './worker/process';

main();
