/**
 * Presence bodies: PIDF (RFC 3863) with RPID activities (RFC 4480), and watcher information
 * (RFC 3858). Bounded parse and serialise; no sockets, no timers.
 */
export * from './xml.ts';
export * from './xml-build.ts';
export * from './pidf.ts';
export * from './watcherinfo.ts';
