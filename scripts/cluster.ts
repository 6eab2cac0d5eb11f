/**
 * `npm run cluster`: a real Temporal cluster (four server processes, PostgreSQL, mTLS) to try by
 * hand, from harness/temporal-cluster.ts. Prints the settings that point the workers, the API and
 * the ops CLI at it; Ctrl-C stops it and drops its databases.
 */
import { startTemporalCluster } from '../harness/temporal-cluster';
import { commandLineOrExit } from '../lib/command-line';

const USAGE = `npm run cluster: a real Temporal cluster (four server processes, PostgreSQL, mTLS) to try by hand.
TEMPORAL_NAMESPACE names its namespace (default storefront); Ctrl-C stops it and drops its databases.`;

async function main(): Promise<void> {
  commandLineOrExit(USAGE, {}, () => undefined);
  const cluster = await startTemporalCluster({
    namespace: process.env.TEMPORAL_NAMESPACE || 'storefront',
    log: (line) => console.log(`[cluster] ${line}`),
  });
  const exports = Object.entries(cluster.env).map(([name, value]) => `export ${name}=${value}`);
  console.log(
    [
      '',
      'Point the storefront at it (in another shell):',
      ...exports,
      'then: npm run worker, npm run api, npm run ops -- list --status any',
      'Ctrl-C stops the cluster.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('[cluster] stopping...');
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
