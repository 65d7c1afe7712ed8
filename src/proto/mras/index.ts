/**
 * The TURN credential service of the Front End (OCS's MRAS): SERVICE request in, time-limited
 * TURN REST credentials and A/V Edge URIs out. See docs/turn-credential-service.md.
 */
export {
  MAX_TURN_CREDENTIALS_REQUEST_BYTES,
  TURN_CREDENTIALS_CONTENT_TYPE,
  answerTurnCredentialRequest,
  issueTurnCredentials,
  parseTurnCredentialRequest,
  turnUri,
  type AvEdgeAddresses,
  type AvSide,
  type IssueTurnCredentialsInput,
  type TurnCredentialAnswer,
  type TurnCredentialError,
  type TurnCredentialRequest,
  type TurnCredentialResponse,
  type TurnServer,
} from './turn-credentials.ts';
