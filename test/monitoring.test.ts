/** The sample Prometheus and Grafana files under ops/ parse, scrape the compose services and chart the named series. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Panel {
  type: string;
  title: string;
  id: number;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(read('monitoring/grafana/dashboards/storefront.json')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
};
const expressions = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)).join('\n');

describe('the sample Grafana dashboard', () => {
  it.each([
    [
      'the worker series Temporal Core exports',
      [
        'temporal_workflow_task_schedule_to_start_latency_bucket',
        'temporal_activity_schedule_to_start_latency_bucket',
        'temporal_worker_task_slots_used',
        'temporal_worker_task_slots_available',
        'temporal_workflow_completed',
        'temporal_workflow_failed',
      ],
    ],
    [
      "the API's series",
      [
        'http_request_duration_seconds_bucket',
        'storefront_orders',
        'storefront_order_placements_total',
        'storefront_compensations_total',
        'storefront_quota_rejections_total',
        'storefront_invariant_violations',
      ],
    ],
  ])('charts %s', (_source, series) => {
    for (const name of series) expect(expressions).toContain(name);
  });

  it('has unique panel ids and a Prometheus data source variable', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((variable) => variable.name)).toContain('datasource');
    expect(dashboard.uid).toBe('storefront-sagas');
  });
});

describe('the Prometheus configuration', () => {
  const config = parse(read('monitoring/prometheus/prometheus.yml')) as {
    scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
  };
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string> }>;
  };

  it('scrapes the API and every worker service of docker-compose.yml', () => {
    const targets = Object.fromEntries(
      config.scrape_configs.map((job) => [
        job.job_name,
        job.dns_sd_configs.flatMap((sd) => sd.names.map((name) => `${name}:${sd.port}`)),
      ]),
    );
    // The API serves its metrics on METRICS_PORT, apart from the public port.
    expect(targets['storefront-api']).toEqual([`api:${compose.services.api!.environment!.METRICS_PORT}`]);
    const workers = Object.keys(compose.services).filter((name) => name.startsWith('worker-'));
    expect([...targets['storefront-workers']!].sort()).toEqual(workers.map((name) => `${name}:9464`).sort());
  });
});
