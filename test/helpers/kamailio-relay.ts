import type { KamailioConfigContext } from './kamailio.ts';

/** Options of {@link kamailioRelayConfig}. */
export interface KamailioRelayOptions {
  /** Where every out-of-dialog request goes, e.g. `sip:127.0.0.1:5070;transport=udp`. */
  readonly nextHop: string;
  /** Certificate and key for `tls` listen sockets. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Accept WebSocket upgrades on the tcp/tls sockets (needs kamailio-websocket-modules). */
  readonly websocket?: boolean;
  /** Worker processes per UDP socket and for TCP/TLS (`children`, `tcp_children`). */
  readonly children?: number;
  readonly debugLevel?: number;
}

/**
 * A kamailio.cfg doing the job Rampart's access edge does: a stateful relay (tm) that
 * Record-Routes initial requests, loose-routes in-dialog ones and sends everything else
 * to one static next hop. Used as the proxy under test while ours is not there.
 */
export function kamailioRelayConfig(
  options: KamailioRelayOptions,
): (context: KamailioConfigContext) => string {
  return (context) => {
    const tlsCfgFile = `${context.workDir}/tls.cfg`;
    const lines = [
      '#!KAMAILIO',
      `debug=${options.debugLevel ?? 1}`,
      'log_stderror=yes',
      'memdbg=5',
      'memlog=5',
      `children=${options.children ?? 2}`,
      `tcp_children=${options.children ?? 2}`,
      'auto_aliases=no',
      'dns=no',
      'rev_dns=no',
      'use_dns_cache=off',
      'tcp_accept_no_cl=yes',
      'tcp_connection_lifetime=3605',
      options.tls !== undefined ? 'enable_tls=yes' : '',
      context.listenLines,
      '',
      'loadmodule "tm.so"',
      'loadmodule "sl.so"',
      'loadmodule "rr.so"',
      'loadmodule "maxfwd.so"',
      'loadmodule "textops.so"',
      'loadmodule "siputils.so"',
      'loadmodule "pv.so"',
      options.tls !== undefined ? 'loadmodule "tls.so"' : '',
      options.websocket === true ? 'loadmodule "xhttp.so"' : '',
      options.websocket === true ? 'loadmodule "websocket.so"' : '',
      options.tls !== undefined ? `modparam("tls", "config", "${tlsCfgFile}")` : '',
      'modparam("rr", "enable_full_lr", 1)',
      'modparam("tm", "fr_timer", 4000)',
      '',
      'request_route {',
      '  force_rport();',
      '  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }',
      '  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }',
      '  if (has_totag() && loose_route()) { route(RELAY); exit; }',
      '  if (!has_totag()) { t_check_trans(); record_route(); }',
      '  if ($du == $null) {',
      `    $du = "${options.nextHop}";`,
      '  }',
      '  route(RELAY);',
      '}',
      '',
      'route[RELAY] {',
      '  if (!t_relay()) { sl_reply_error(); }',
      '  exit;',
      '}',
    ];
    if (options.websocket === true) {
      lines.push(
        '',
        'event_route[xhttp:request] {',
        '  set_reply_close();',
        '  set_reply_no_connect();',
        '  if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {',
        '    if (ws_handle_handshake()) { exit; }',
        '  }',
        '  xhttp_reply("404", "Not Found", "", "");',
        '}',
      );
    }
    return lines.filter((line, i, all) => line !== '' || all[i - 1] !== '').join('\n') + '\n';
  };
}

/** The tls.cfg for {@link kamailioRelayConfig} with `tls` set (file name `tls.cfg`). */
export function kamailioTlsConfig(certFile: string, keyFile: string): string {
  return [
    '[server:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    `private_key = ${keyFile}`,
    `certificate = ${certFile}`,
    '',
    '[client:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    '',
  ].join('\n');
}
