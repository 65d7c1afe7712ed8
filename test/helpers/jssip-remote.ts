// Child-process entry: JsSIP (a browser SIP stack nobody here wrote) as a remote user over
// WSS: registers with Digest, sends one MESSAGE, then waits for one MESSAGE to arrive.
// Prints one JSON line per event: {"event":"registered"}, {"event":"sent","status":200},
// {"event":"received","from":"sip:…","body":"…"}, or {"event":"failed","cause":"…"}.
// Run as a child so NODE_EXTRA_CA_CERTS (read at start-up) can make Node trust a test CA:
//   node test/helpers/jssip-remote.ts <wss-url> <aor> <password> <target> <body>
import { UA, WebSocketInterface } from 'jssip';

const [url, aor, password, target, body] = process.argv.slice(2);
if (
  url === undefined ||
  aor === undefined ||
  password === undefined ||
  target === undefined ||
  body === undefined
) {
  console.error('usage: jssip-remote.ts <wss-url> <aor> <password> <target> <body>');
  process.exit(2);
}

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

function fail(cause: string): never {
  print({ event: 'failed', cause });
  process.exit(1);
}

const timer = setTimeout(() => {
  fail('timeout: 20 s without the whole exchange');
}, 20_000);
timer.unref();

const ua = new UA({
  sockets: [new WebSocketInterface(url)],
  uri: aor,
  password,
  register: true,
  connection_recovery_min_interval: 1,
  connection_recovery_max_interval: 1,
});
ua.on('registrationFailed', (event) => {
  const response = event.response as typeof event.response | null | undefined;
  fail(
    `registration failed: ${String(event.cause)}` +
      (response ? ` (${String(response.status_code)} ${response.reason_phrase})` : ''),
  );
});
ua.on('registered', () => {
  print({ event: 'registered' });
  ua.sendMessage(target, body, {
    eventHandlers: {
      succeeded: (event) => {
        print({ event: 'sent', status: event.response.status_code });
      },
      failed: (event) => {
        fail(`MESSAGE failed: ${String(event.cause)}`);
      },
    },
  });
});
ua.on(
  'newMessage',
  (event: {
    originator: string;
    request: { from: { uri: { toString(): string } }; body: string };
  }) => {
    if (event.originator !== 'remote') return;
    print({
      event: 'received',
      from: event.request.from.uri.toString(),
      body: event.request.body,
    });
    ua.stop();
    setTimeout(() => process.exit(0), 200);
  },
);
ua.start();
