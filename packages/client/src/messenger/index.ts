export { Messenger, type MessengerOptions, type SyncResult } from './messenger.js';
export { type InboxMessage } from './messenger-store.js';
export { DeviceMessagingApi } from './device-api.js';
