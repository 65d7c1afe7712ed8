/**
 * The presence server's sans-IO core: PUBLISH composition (RFC 3903), the presence and
 * presence.winfo notifier (RFC 3856, RFC 3857, RFC 6665) and presence authorization.
 */
export * from './types.ts';
export * from './authorization.ts';
export * from './publication-store.ts';
export * from './subscription-table.ts';
export * from './presence-agent.ts';
export * from './sip-input.ts';
