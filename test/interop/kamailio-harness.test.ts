// Proves the interop harness end to end with a real proxy: the very tests Rampart must
// pass (proxy-suite.ts), run against Kamailio 5.6 as a stateful Record-Routing relay.
import { defineProxyInteropTests } from './proxy-suite.ts';
import { startKamailioProxy } from '../helpers/proxy-under-test.ts';

defineProxyInteropTests('kamailio', startKamailioProxy);
