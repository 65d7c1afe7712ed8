/** The Front End's own counters (the SIP engine's come from runtime/sip/metrics). */
import type { Registry } from 'prom-client';
import { SIP_METHODS } from '../../codec/sip/parse.ts';
import { tallyIn } from '../../runtime/metrics.ts';

/** Methods that get their own label on routed requests (senders choose methods). */
const ROUTED_METHODS: ReadonlySet<string> = new Set(SIP_METHODS);

/** Counted in plain numbers on the request path, handed to prom-client at scrape time. */
export class FrontEndMetrics {
  private readonly authTotal: (outcome: string) => void;
  private readonly registerTotal: (status: string) => void;
  private readonly routedTotal: (method: string) => void;
  private readonly presenceTotal: (event: string) => void;

  constructor(registry: Registry) {
    this.authTotal = tallyIn(
      registry,
      'rampart_front_end_auth_total',
      'Requests from clients the Front End authenticated, by outcome',
      'outcome',
    );
    this.registerTotal = tallyIn(
      registry,
      'rampart_front_end_register_total',
      'REGISTER requests answered, by status',
      'status',
    );
    this.routedTotal = tallyIn(
      registry,
      'rampart_front_end_routed_total',
      'Requests routed to registered endpoints, by method',
      'method',
    );
    this.presenceTotal = tallyIn(
      registry,
      'rampart_front_end_presence_total',
      'Presence events (publish, subscribe, notify, notify-failed, refused)',
      'event',
    );
  }

  auth(outcome: string): void {
    this.authTotal(outcome);
  }

  register(status: number): void {
    this.registerTotal(String(status));
  }

  routed(method: string): void {
    this.routedTotal(ROUTED_METHODS.has(method) ? method : 'other');
  }

  presence(event: string): void {
    this.presenceTotal(event);
  }
}
