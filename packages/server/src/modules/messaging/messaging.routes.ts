import {
  CommitAcceptedSchema,
  CommitSubmitSchema,
  ConversationCreatedSchema,
  ConversationCreateSchema,
  ConversationListSchema,
  ConversationMembersSchema,
  IdParamsSchema,
  KeyPackageStatusSchema,
  KeyPackageUploadSchema,
  MAX_MESSAGE_BYTES,
  MAX_WELCOME_BYTES,
  MessageAcceptedSchema,
  MessageSubmitSchema,
  PendingMembershipSchema,
  QueueAckResultSchema,
  QueueAckSchema,
  QueuePageSchema,
  QueueQuerySchema,
} from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import { z } from 'zod';
import type { Readable } from 'node:stream';
import type { AttachmentService } from './attachment.service.js';
import type { MessagingService } from './messaging.service.js';

const AttachmentUploadedSchema = z.object({ attachmentId: z.string(), size: z.number().int() });

export function messagingRoutes(m: MessagingService, attachments: AttachmentService): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/conversations/:id/attachments',
      summary: 'Upload an encrypted attachment (application/octet-stream, streamed to disk)',
      tag: 'messaging',
      auth: 'device',
      params: IdParamsSchema,
      consumes: 'application/octet-stream',
      response: AttachmentUploadedSchema,
      status: 201,
      handler: ({ principal, params, request }) => {
        const len = request.headers['content-length'];
        return attachments.upload(
          principal,
          params.id,
          request.body as Readable,
          len ? Number(len) : undefined,
        );
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/attachments/:id',
      summary: "Download an attachment's ciphertext (members of its conversation only)",
      tag: 'messaging',
      auth: 'device',
      params: IdParamsSchema,
      produces: 'application/octet-stream',
      handler: async ({ principal, params, reply }) => {
        const { stream, size } = await attachments.download(principal, params.id);
        reply.header('content-length', size);
        return stream;
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/mls/key-packages',
      summary: 'Upload KeyPackages (and a last-resort one); answers the stock',
      tag: 'messaging',
      auth: 'device',
      body: KeyPackageUploadSchema,
      response: KeyPackageStatusSchema,
      handler: ({ principal, body }) => m.uploadKeyPackages(principal, body.keyPackages, body.lastResort),
    }),
    route({
      method: 'GET',
      url: '/api/v1/mls/key-packages',
      summary: 'How many KeyPackages the server holds for this device',
      tag: 'messaging',
      auth: 'device',
      response: KeyPackageStatusSchema,
      handler: ({ principal }) => m.keyPackageStatus(principal),
    }),
    route({
      method: 'POST',
      url: '/api/v1/conversations',
      summary: 'Create a conversation; answers the devices the creator must add in its first commit',
      tag: 'messaging',
      auth: 'device',
      body: ConversationCreateSchema,
      response: ConversationCreatedSchema,
      status: 201,
      handler: ({ principal, body }) => m.create(principal, body),
    }),
    route({
      method: 'GET',
      url: '/api/v1/conversations',
      summary: "This device's conversations",
      tag: 'messaging',
      auth: 'device',
      response: ConversationListSchema,
      handler: ({ principal }) => m.list(principal),
    }),
    route({
      method: 'GET',
      url: '/api/v1/conversations/:id/members',
      summary: 'The devices that can read this conversation (user, device id, certificate fingerprint)',
      tag: 'messaging',
      auth: 'device',
      params: IdParamsSchema,
      response: ConversationMembersSchema,
      handler: ({ principal, params }) => m.members(principal, params.id),
    }),
    route({
      method: 'GET',
      url: '/api/v1/conversations/:id/pending',
      summary: 'Devices waiting to be added (with claimed KeyPackages) or removed by the next commit',
      tag: 'messaging',
      auth: 'device',
      params: IdParamsSchema,
      response: PendingMembershipSchema,
      handler: ({ principal, params }) => m.pending(principal, params.id),
    }),
    route({
      method: 'POST',
      url: '/api/v1/conversations/:id/commits',
      summary: 'Submit a commit for the current epoch (first one wins; others get 409 stale_epoch)',
      tag: 'messaging',
      auth: 'device',
      params: IdParamsSchema,
      body: CommitSubmitSchema,
      bodyLimit: 2 * (MAX_MESSAGE_BYTES + MAX_WELCOME_BYTES), // a commit and a Welcome, base64url (4/3 each) plus JSON
      response: CommitAcceptedSchema,
      status: 201,
      handler: ({ principal, params, body }) => m.commit(principal, params.id, body),
    }),
    route({
      method: 'POST',
      url: '/api/v1/conversations/:id/messages',
      summary: 'Send an application message (ciphertext) to every other member device',
      tag: 'messaging',
      auth: 'device',
      params: IdParamsSchema,
      body: MessageSubmitSchema,
      bodyLimit: 2 * MAX_MESSAGE_BYTES, // a 1 MiB ciphertext is ~1.4 MB as base64url
      response: MessageAcceptedSchema,
      status: 201,
      handler: ({ principal, params, body }) => m.send(principal, params.id, body),
    }),
    route({
      method: 'GET',
      url: '/api/v1/queue',
      summary: "Fetch this device's queue (for devices that cannot keep a socket)",
      tag: 'messaging',
      auth: 'device',
      query: QueueQuerySchema,
      response: QueuePageSchema,
      handler: ({ principal, query }) => m.queue(principal, query.after, query.limit),
    }),
    route({
      method: 'POST',
      url: '/api/v1/queue/ack',
      summary: 'Acknowledge deliveries; the server then forgets them',
      tag: 'messaging',
      auth: 'device',
      body: QueueAckSchema,
      response: QueueAckResultSchema,
      handler: ({ principal, body }) => m.ack(principal, body.seqs),
    }),
  ];
}
