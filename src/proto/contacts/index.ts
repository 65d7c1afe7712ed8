/** The roaming contact list: operations, storage interface and the service (docs/contacts-protocol.md). */
export * from './apply.ts';
export * from './store.ts';
export * from './service.ts';
