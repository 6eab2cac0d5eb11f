/** The worker's deployment version from its environment: off when unset, refused when half given or unquotable. */
import { workerDeploymentFromEnv, WorkerDeploymentError } from './deployment';

describe('workerDeploymentFromEnv', () => {
  it('is unversioned when neither variable is set (the dev stack, tests and benchmarks)', () => {
    expect(workerDeploymentFromEnv({})).toBeUndefined();
    expect(workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: ' ', TEMPORAL_BUILD_ID: '' })).toBeUndefined();
  });

  it('reads both, trimmed', () => {
    expect(workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: ' storefront ', TEMPORAL_BUILD_ID: '1.4.0' })).toEqual({
      deploymentName: 'storefront',
      buildId: '1.4.0',
    });
  });

  it.each([
    [{ TEMPORAL_BUILD_ID: '1.4.0' }, /both TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID/],
    [{ TEMPORAL_DEPLOYMENT_NAME: 'storefront' }, /both TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID/],
    [{ TEMPORAL_DEPLOYMENT_NAME: 'store.front', TEMPORAL_BUILD_ID: '1' }, /not a deployment name/],
    [{ TEMPORAL_DEPLOYMENT_NAME: 'storefront', TEMPORAL_BUILD_ID: "1' OR 'x" }, /not a build id/],
  ])('refuses %j', (env, message) => {
    expect(() => workerDeploymentFromEnv(env)).toThrow(WorkerDeploymentError);
    expect(() => workerDeploymentFromEnv(env)).toThrow(message);
  });
});
