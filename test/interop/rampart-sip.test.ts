// The interop suite (proxy-suite.ts, proven against Kamailio in kamailio-harness.test.ts)
// run against `rampart start`: the access edge on external udp/tcp/tls/ws/wss of 127.0.0.1
// routing example.test and 127.0.0.1 to a static next hop (the sipp uas).
import { defineProxyInteropTests } from './proxy-suite.ts';
import { startRampartProxy } from '../helpers/proxy-under-test.ts';

defineProxyInteropTests('rampart', startRampartProxy, {});
