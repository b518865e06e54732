import { DynaliteFixture } from './dynalite-harness.js';
import { describeTaskStoreContract } from './task-store-contract.js';

// A real dynalite on a temp directory per test; each store instance has its own client.
describeTaskStoreContract(
  'DynamoTaskStore on dynalite',
  async () => (await DynaliteFixture.start()).harness(),
  {
    persists: true,
  },
);
