// The entry point of a worker process of `enclave server --workers N` (forked by workers.ts).
import { runClusterWorker } from './workers.js';

await runClusterWorker();
