/**
 * The enrich configuration for the demo estate's tables (src/demo/inventory.ts,
 * `inventoryTablesCsv`), as the demo, the benchmarks and the tests use it. The fields it adds
 * are listed in index.ts and pinned by index.test.ts, so the `ocsf` mapping can rely on them.
 */
import path from 'node:path';
import type { EnrichTransformConfig } from '../transforms/enrich/config.js';

/**
 * The demo's enrich transform, reading the CSV tables from `tablesDir` (absolute, or relative to
 * the pipeline file when written into one).
 *
 * @example
 * demoEnrichConfig('/tmp/demo/tables').tables.subnets // { file: '/tmp/demo/tables/subnets.csv', key: 'subnet_id', cidr: ['cidr', 'ipv6_cidr'] }
 */
export function demoEnrichConfig(tablesDir: string): EnrichTransformConfig {
  const file = (name: string) => path.join(tablesDir, name);
  return {
    type: 'enrich',
    tables: {
      interfaces: { file: file('interfaces.csv'), key: 'interface_id' },
      hosts: { file: file('interfaces.csv'), cidr: ['private_ip', 'ipv6_address'], fields: { interface_id: 'interface_id', interface_name: 'name', instance_id: 'instance_id' } },
      subnets: { file: file('subnets.csv'), key: 'subnet_id', cidr: ['cidr', 'ipv6_cidr'] },
      vpcs: { file: file('vpcs.csv'), key: 'vpc_id', fields: ['vpc_name'] },
      instances: { file: file('instances.csv'), key: 'instance_id', fields: ['instance_name', 'instance_type'] },
      networks: { file: file('networks.csv'), cidr: 'cidr', fields: ['network_name'] },
    },
  };
}
