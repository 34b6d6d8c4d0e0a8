export * from './aead.js';
export * from './channel.js';
export * from './pki.js';
