import {
  CommandAckResultSchema,
  CommitAcceptedSchema,
  DeviceSelfSchema,
  ConversationCreatedSchema,
  ConversationListSchema,
  ConversationMembersSchema,
  KeyPackageStatusSchema,
  MessageAcceptedSchema,
  PendingMembershipSchema,
  QueueAckResultSchema,
  QueuePageSchema,
} from '@enclave/protocol';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { call, parseResponse, type Transport } from '../transport.js';

/** The device's side of the REST API for messaging (docs/API.md §Messaging), typed. */
export class DeviceMessagingApi {
  constructor(
    private readonly transport: Transport,
    private readonly token: string,
  ) {}

  private get headers() {
    return { authorization: `Bearer ${this.token}` };
  }

  keyPackageStatus() {
    return call(
      this.transport,
      { method: 'GET', path: '/api/v1/mls/key-packages', headers: this.headers },
      KeyPackageStatusSchema,
    );
  }
  uploadKeyPackages(keyPackages: string[], lastResort?: string) {
    return call(
      this.transport,
      {
        method: 'POST',
        path: '/api/v1/mls/key-packages',
        headers: this.headers,
        body: { keyPackages, ...(lastResort ? { lastResort } : {}) },
      },
      KeyPackageStatusSchema,
    );
  }
  createConversation(memberEmails: string[], name?: string) {
    return call(
      this.transport,
      {
        method: 'POST',
        path: '/api/v1/conversations',
        headers: this.headers,
        body: { memberEmails, ...(name ? { name } : {}) },
      },
      ConversationCreatedSchema,
    );
  }
  conversations() {
    return call(
      this.transport,
      { method: 'GET', path: '/api/v1/conversations', headers: this.headers },
      ConversationListSchema,
    );
  }
  members(id: string) {
    return call(
      this.transport,
      { method: 'GET', path: `/api/v1/conversations/${id}/members`, headers: this.headers },
      ConversationMembersSchema,
    );
  }
  pending(id: string) {
    return call(
      this.transport,
      { method: 'GET', path: `/api/v1/conversations/${id}/pending`, headers: this.headers },
      PendingMembershipSchema,
    );
  }
  commit(
    id: string,
    body: {
      epoch: number;
      commit: string;
      welcome?: string;
      addedDeviceIds: string[];
      removedDeviceIds: string[];
    },
  ) {
    return call(
      this.transport,
      { method: 'POST', path: `/api/v1/conversations/${id}/commits`, headers: this.headers, body },
      CommitAcceptedSchema,
    );
  }
  send(id: string, body: { epoch: number; messageId: string; ciphertext: string }) {
    return call(
      this.transport,
      { method: 'POST', path: `/api/v1/conversations/${id}/messages`, headers: this.headers, body },
      MessageAcceptedSchema,
    );
  }
  queue(after: number, limit = 200) {
    return call(
      this.transport,
      { method: 'GET', path: `/api/v1/queue?after=${after}&limit=${limit}`, headers: this.headers },
      QueuePageSchema,
    );
  }
  ack(seqs: number[]) {
    return call(
      this.transport,
      { method: 'POST', path: '/api/v1/queue/ack', headers: this.headers, body: { seqs } },
      QueueAckResultSchema,
    );
  }
  upload(conversationId: string, stream: Readable) {
    return call(
      this.transport,
      {
        method: 'POST',
        path: `/api/v1/conversations/${conversationId}/attachments`,
        headers: this.headers,
        bodyStream: stream,
      },
      z.object({ attachmentId: z.string(), size: z.number() }),
    );
  }
  async download(attachmentId: string, sink: Writable): Promise<void> {
    const res = await this.transport({
      method: 'GET',
      path: `/api/v1/attachments/${attachmentId}`,
      headers: this.headers,
      sink,
    });
    if (res.status >= 400) parseResponse(res);
  }
  ackCommand(commandId: string, state: 'acknowledged' | 'done' | 'failed', reason?: string) {
    return call(
      this.transport,
      {
        method: 'POST',
        path: `/api/v1/device/commands/${commandId}/ack`,
        headers: this.headers,
        body: { state, ...(reason ? { reason } : {}) },
      },
      CommandAckResultSchema,
    );
  }
  me() {
    return call(
      this.transport,
      { method: 'GET', path: '/api/v1/device/me', headers: this.headers },
      DeviceSelfSchema,
    );
  }
  async crl(): Promise<string> {
    const res = await this.transport({ method: 'GET', path: '/api/v1/pki/crl' });
    return res.text;
  }
}
