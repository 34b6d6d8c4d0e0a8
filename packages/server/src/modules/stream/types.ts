export { ClientFrameSchema } from '@enclave/protocol';
export type { DevicePrincipal as DevicePrincipalLike } from '../../platform/http/route.js';
