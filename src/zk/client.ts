// The session layer's one entry point: the rest of zkvault opens ZooKeeper sessions and reads their
// errors through this module only. It speaks the wire protocol itself (zk/protocol, zk/connection,
// zk/session), with TLS and SASL, on the project's jute codec: no client library's internals.
//
// What clients see of a server, and how zkvault copes:
// - Container and TTL nodes read with ephemeralOwner 0 (DataNode.getClientEphemeralOwner in ZooKeeper
//   3.5+): a live walk sees them as persistent; only snapshots and transaction logs keep their type.
// - Every request packet is bounded by the server's jute.maxbuffer (default 1,048,575 bytes): a request
//   over it would make the server drop the connection, so it is refused before it is sent
//   (RequestTooLargeError; see requestBytes). Creating `/x` with the open ACL, the largest data is
//   1,048,575 − 49 = 1,048,526 bytes (header 8, path 6, data length 4, ACL 27, flags 4).
// - A request in flight when its connection is lost fails with a ConnectionError (exit 13); later
//   requests wait for the session to resume on another server, for as long as it can still be alive.
export { openSession } from './session.js';
export { DEFAULT_MAX_REQUEST_BYTES, RequestTooLargeError, ZK_ERROR, zkErrorName, ZkOpError } from './errors.js';
export { multiOpBytes, requestBytes } from './protocol.js';
export { fourLetterWord, serverZxid } from './four-letter.js';
export type * from './types.js';
