/**
 * The TURN credential service (what OCS called MRAS): an authenticated user's SERVICE request
 * is answered with TURN REST credentials for the A/V Edge side that fits where the user is.
 */
import type { SipRequest } from '../../codec/sip/message.ts';
import { answerTurnCredentialRequest, type AvEdgeAddresses } from '../../proto/mras/index.ts';
import type { RequestDecision } from '../../runtime/sip/handler.ts';
import type { Directory } from '../../store/directory.ts';

export interface TurnServiceSettings {
  /** The TURN REST secret shared with the A/V Edge. */
  readonly secret: string;
  readonly lifetimeSeconds: number;
  readonly avEdge: AvEdgeAddresses;
}

export class TurnCredentialService {
  private readonly settings: TurnServiceSettings;
  private readonly directory: Directory;

  constructor(settings: TurnServiceSettings, directory: Directory) {
    this.settings = settings;
    this.directory = directory;
  }

  async handle(
    request: SipRequest,
    identity: string,
    cameFrom: 'internal' | 'external',
  ): Promise<RequestDecision> {
    const address = identity.replace(/^sips?:/i, '');
    const user = await this.directory.getUser(address);
    // Users who came in from outside need remote access; everyone needs an enabled account.
    const allowed =
      user !== undefined && user.enabled && (cameFrom === 'internal' || user.policy.remoteAccess);
    const answer = answerTurnCredentialRequest(request, {
      user: address,
      cameFrom,
      allowed,
      secret: this.settings.secret,
      lifetimeSeconds: this.settings.lifetimeSeconds,
      now: Date.now(),
      avEdge: this.settings.avEdge,
    });
    return {
      kind: 'respond',
      status: answer.status,
      reason: answer.reason,
      headers: answer.headers,
      ...(answer.body === undefined ? {} : { body: answer.body }),
    };
  }
}
