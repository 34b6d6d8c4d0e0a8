export { StreamHub, HEARTBEAT_MS, MAX_BUFFERED_BYTES, SLOW_CONSUMER_MS, CLOSE } from './stream.hub.js';
export { registerStream } from './stream.routes.js';
