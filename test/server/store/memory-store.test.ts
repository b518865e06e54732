import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { describeTaskStoreContract } from './task-store-contract.js';

// One process, one map: the "second instance" is the same store.
describeTaskStoreContract(
  'MemoryTaskStore',
  async () => {
    const store = new MemoryTaskStore();
    return { store, peer: async () => store, close: () => store.close() };
  },
  { persists: false },
);
