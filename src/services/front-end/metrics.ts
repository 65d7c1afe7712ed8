/** The Front End's own counters (the SIP engine's come from runtime/sip/metrics). */
import type { Counter, Registry } from 'prom-client';
import { counterIn as counter } from '../../runtime/metrics.ts';

export class FrontEndMetrics {
  private readonly authTotal: Counter<'outcome'>;
  private readonly registerTotal: Counter<'status'>;
  private readonly routedTotal: Counter<'method'>;
  private readonly presenceTotal: Counter<'event'>;

  constructor(registry: Registry) {
    this.authTotal = counter(
      registry,
      'rampart_front_end_auth_total',
      'Requests from clients the Front End authenticated, by outcome',
      ['outcome'],
    );
    this.registerTotal = counter(
      registry,
      'rampart_front_end_register_total',
      'REGISTER requests answered, by status',
      ['status'],
    );
    this.routedTotal = counter(
      registry,
      'rampart_front_end_routed_total',
      'Requests routed to registered endpoints, by method',
      ['method'],
    );
    this.presenceTotal = counter(
      registry,
      'rampart_front_end_presence_total',
      'Presence events (publish, subscribe, notify, notify-failed, refused)',
      ['event'],
    );
  }

  auth(outcome: string): void {
    this.authTotal.inc({ outcome });
  }

  register(status: number): void {
    this.registerTotal.inc({ status: String(status) });
  }

  routed(method: string): void {
    // Methods are chosen by senders: only the known ones get their own label.
    const known = ['INVITE', 'MESSAGE', 'OPTIONS', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'INFO'];
    this.routedTotal.inc({ method: known.includes(method) ? method : 'other' });
  }

  presence(event: string): void {
    this.presenceTotal.inc({ event });
  }
}
