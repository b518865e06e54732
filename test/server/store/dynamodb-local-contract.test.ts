import { after, before } from 'node:test';
import { DynamoDbLocal } from '../../support/dynamodb-local.js';
import { DynamoDbLocalFixture } from './dynalite-harness.js';
import { describeTaskStoreContract } from './task-store-contract.js';

// The same contract on Amazon's DynamoDB Local, with the store using transactions (a keyed write's
// batch and IDEM item in one request): every race, crash and idempotency case of the contract
// holds on that path too. One server for the file, a table per test.
let server: DynamoDbLocal;
before(async () => {
  server = await DynamoDbLocal.start();
});
after(async () => {
  await server?.close();
});

describeTaskStoreContract(
  'DynamoTaskStore on DynamoDB Local, with transactions',
  async (clock, limits) => (await DynamoDbLocalFixture.start(server, clock)).harness(limits),
  { persists: true },
);
