import { CaInfoSchema, ServerInfoSchema } from '@enclave/protocol';
import { z } from 'zod';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { PkiService } from './pki.service.js';

const CrlQuerySchema = z.object({ format: z.enum(['pem', 'der']).default('pem') }).strict();

export function pkiRoutes(
  pki: PkiService,
  info: { version: string; setupRequired(): Promise<boolean> },
): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/info',
      summary: 'Server name, version, organisation and CA fingerprint',
      tag: 'pki',
      auth: 'none',
      response: ServerInfoSchema,
      handler: async () => ({
        name: 'enclave' as const,
        version: info.version,
        organization: pki.organization,
        caFingerprint: pki.caFingerprint,
        setupRequired: await info.setupRequired(),
      }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/pki/ca',
      summary: 'The enterprise CA chain (issuing CA, root) and the root fingerprint',
      tag: 'pki',
      auth: 'none',
      response: CaInfoSchema,
      handler: () =>
        Promise.resolve({
          caFingerprint: pki.caFingerprint,
          chain: pki.chainPems(),
          organization: pki.organization,
        }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/pki/ca.pem',
      summary: 'The enterprise CA chain as PEM',
      tag: 'pki',
      auth: 'none',
      produces: 'application/x-pem-file',
      handler: () => Promise.resolve(pki.chainPems().join('')),
    }),
    route({
      method: 'GET',
      url: '/api/v1/pki/crl',
      summary: "The issuing CA's certificate revocation list (PEM, or DER with ?format=der)",
      tag: 'pki',
      auth: 'none',
      query: CrlQuerySchema,
      produces: 'application/pkix-crl',
      handler: async ({ query, reply }) => {
        const crl = await pki.crl();
        if (query.format === 'der') return crl.der;
        reply.type('application/x-pem-file');
        return crl.pem;
      },
    }),
  ];
}
