/**
 * The registrar of the Director and Front End (RFC 3261 §10, RFC 5626, RFC 5627, RFC 3327).
 * Sans-IO: REGISTER in, response and binding changes out; bindings written through to a store.
 */
export { aorDomain, canonicalAor, canonicalAorText } from './aor.ts';
export {
  DEFAULT_CONTACT_LIMITS,
  formatQValue,
  parseQValue,
  parseRegisterContacts,
  type ContactError,
  type ContactLimits,
  type RegisterContact,
  type RegisterContacts,
} from './contact.ts';
export {
  GruuCodec,
  MIN_GRUU_SECRET_BYTES,
  TEMP_GRUU_PREFIX,
  callIdHash,
  instanceUrn,
  publicGruu,
  type GruuTarget,
} from './gruu.ts';
export { InMemoryBindingStore } from './memory-store.ts';
export {
  Registrar,
  type GruuResolution,
  type RegisterInput,
  type RegisterResult,
  type RegistrarOptions,
} from './registrar.ts';
export type { Binding, BindingChanges, BindingStore, ContactParam } from './types.ts';
