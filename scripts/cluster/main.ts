// `npm run cluster`: the local cluster with the demo (issue 14). Three instances on one dynalite
// server and one Redis, behind HAProxy on PORT (default 8787); Ctrl-C stops everything.
import path from 'node:path';
import { startCluster } from './cluster.js';

const port = Number(process.env.PORT ?? 8787);
const dataDir = path.resolve(process.env.DATA_DIR ?? '.data', 'cluster');
const cluster = await startCluster({
  port,
  instancePorts: [8801, 8802, 8803],
  dynalitePort: 8800,
  redisPort: 6380,
  dataDir,
  demo: true,
  echo: process.env.CLUSTER_QUIET !== '1',
}).catch((error: Error) => {
  console.error(`the cluster did not start: ${error.message}`);
  process.exit(1);
});
console.log(`
agent-task-status cluster: the demo at ${cluster.url}/
  HAProxy ${cluster.url} → instances 127.0.0.1:8801, :8802, :8803 (health: /readyz)
  dynalite server 127.0.0.1:8800 (data in ${path.join(dataDir, 'dynalite')}), Redis 127.0.0.1:6380
Try: kill -9 an instance, or a rolling restart (kill -TERM one at a time); Ctrl-C stops all.`);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('stopping the cluster...');
    void cluster.close().then(() => process.exit(0));
  });
}
