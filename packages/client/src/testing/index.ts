/** Test doubles for code that builds on the SDK (not part of the runtime API). */
export * from './fake-server.js';
