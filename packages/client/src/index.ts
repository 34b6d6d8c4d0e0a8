export * from './transport.js';
export * from './ca-chain.js';
export * from './request-body.js';
export * from './admin-client.js';
export * from './device-store.js';
export * from './activation.js';
export * from './device-auth.js';
