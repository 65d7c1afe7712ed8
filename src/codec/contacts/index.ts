/** The roaming contact list body (see docs/contacts-protocol.md). */
export * from './contacts.ts';
