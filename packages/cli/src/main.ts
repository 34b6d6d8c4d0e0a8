import { run } from './program.js';

// The entry point of the `enclave` binary (bin/enclave.js).
process.exitCode = await run(process.argv);
