export * from './command-runner.js';
export * from './node-handlers.js';
