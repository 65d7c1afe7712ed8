// Proves the interop harness end to end with a real proxy: the very tests Rampart must
// pass (proxy-suite.ts), run against Kamailio 5.6 as a stateful Record-Routing relay.
import { defineProxyInteropTests } from './proxy-suite.ts';
import { startKamailioProxy } from '../helpers/proxy-under-test.ts';

// One Kamailio worker per socket: with two, a 180 and the 200 that follows it from the uas
// over UDP are relayed by different processes and may overtake each other on the way out,
// which the sipp uac's built-in scenario aborts the call on (seen in CI, 1 call in 10). That
// is Kamailio's latitude over UDP, not a harness fault; the harness is what this file proves.
defineProxyInteropTests('kamailio', (options) => startKamailioProxy({ ...options, children: 1 }));
