/**
 * The STUN/TURN wire codec: RFC 8489 (STUN), RFC 8656 (TURN), RFC 6062 (TURN TCP
 * allocations). Pure parse and serialise; no sockets, no timers.
 */
export * from './constants.ts';
export * from './message.ts';
export * from './routing.ts';
export * from './decode.ts';
export * from './encode.ts';
export * from './integrity.ts';
export * from './keys.ts';
export * from './address.ts';
export * from './attribute-codec.ts';
export * from './attributes-address.ts';
export * from './attributes-auth.ts';
export * from './attributes-error.ts';
export * from './attributes-turn.ts';
export * from './channel-data.ts';
export * from './stream-framer.ts';
export * from './binding.ts';
