// The local cluster (scripts/cluster) on free ports in a temp directory, for the scale-out tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../../../scripts/cluster/cluster.js';
import { freePort } from '../../../scripts/cluster/free-port.js';

/** No limits (the load comes from one address), and a short heartbeat so dead peers show fast. */
const TEST_ENV = {
  HEARTBEAT_MS: '5000',
  RATE_LIMIT_PER_MINUTE: '0',
  CREATES_PER_MINUTE: '0',
  READS_PER_MINUTE: '0',
};

export async function startTestCluster(): Promise<Cluster & { dispose(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'ats-cluster-'));
  try {
    const cluster = await startCluster({
      port: await freePort(),
      instancePorts: [await freePort(), await freePort(), await freePort()],
      dynalitePort: await freePort(),
      redisPort: await freePort(),
      dataDir,
      env: TEST_ENV,
    });
    return {
      ...cluster,
      async dispose() {
        await cluster.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}
