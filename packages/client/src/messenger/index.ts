export { Messenger, type MessengerOptions, type SyncResult, type AttachmentRef } from './messenger.js';
export { type InboxMessage } from './messenger-store.js';
export { DeviceMessagingApi } from './device-api.js';
