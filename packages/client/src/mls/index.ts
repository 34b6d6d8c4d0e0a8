/** The device's MLS engine (RFC 9420) behind Enclave's own interface, on ts-mls 1.6.4. */
export * from './mls-engine.js';
export * from './ts-mls-engine.js';
export * from './create-mls-engine.js';
export { DEFAULT_CIPHER_SUITE, inspectMessage } from './ts-mls-support.js';
export * from './enterprise-authentication-service.js';
export {
  certificateDer,
  CredentialFormatError,
  ed25519PublicKeyOf,
  identityOfCertificate,
  identityOfCredential,
  type EnterpriseIdentity,
} from './enterprise-credential.js';
export * from './device-signing-identity.js';
export { STATE_SEAL_CONTEXT } from './engine-state-codec.js';
