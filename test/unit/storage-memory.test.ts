// The in-memory fake used by repository unit tests honours the same Storage contract as real backends.
import { runStorageConformance } from '../support/storage-conformance.js';
import { MemoryStorage } from '../support/memory-storage.js';

runStorageConformance('memory', async () => ({ storage: new MemoryStorage(), cleanup: async () => {} }));
