import { DynaliteFixture } from './dynalite-harness.js';
import { describeTaskStoreContract } from './task-store-contract.js';

// A real dynalite on a temp directory per test; each store instance has its own client, and reads
// with the contract's clock.
describeTaskStoreContract(
  'DynamoTaskStore on dynalite',
  async (clock, limits) => (await DynaliteFixture.start(clock)).harness(limits),
  {
    persists: true,
  },
);
