// Child-process entry: JsSIP (a browser SIP stack nobody here wrote) sends one MESSAGE over
// a WebSocket and prints one JSON line: {"ok":true,"status":200} or {"ok":false,...}.
// Run as a child so NODE_EXTRA_CA_CERTS (read at start-up) can make Node trust a test CA:
//   node test/helpers/jssip-message.ts <ws(s)://host:port> <sip:target> <body>
import { UA, WebSocketInterface } from 'jssip';

const [url, target, body] = process.argv.slice(2);
if (url === undefined || target === undefined || body === undefined) {
  console.error('usage: jssip-message.ts <ws-url> <target-uri> <body>');
  process.exit(2);
}

/** Result line printed on stdout. */
interface MessageResult {
  readonly ok: boolean;
  readonly status?: number;
  readonly reason?: string;
  readonly cause?: string;
}

function finish(result: MessageResult): never {
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

const timer = setTimeout(() => {
  finish({ ok: false, cause: 'timeout: no final response within 10 s' });
}, 10_000);
timer.unref();

const socket = new WebSocketInterface(url);
const ua = new UA({
  sockets: [socket],
  uri: 'sip:jssip@example.test',
  register: false,
  connection_recovery_min_interval: 1,
  connection_recovery_max_interval: 1,
});

ua.on('disconnected', () => {
  finish({ ok: false, cause: `websocket ${url} disconnected or failed to connect` });
});
ua.on('connected', () => {
  ua.sendMessage(target, body, {
    eventHandlers: {
      succeeded: (event) => {
        finish({
          ok: true,
          status: event.response.status_code,
          reason: event.response.reason_phrase,
        });
      },
      failed: (event) => {
        // The response is absent when the failure is local (transport error, timeout).
        const response = event.response as typeof event.response | null | undefined;
        finish({
          ok: false,
          ...(response ? { status: response.status_code, reason: response.reason_phrase } : {}),
          cause: String(event.cause),
        });
      },
    },
  });
});
ua.start();
