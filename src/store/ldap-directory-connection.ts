/**
 * One LDAP connection bound as Rampart's service account, re-established (and re-bound, and
 * re-upgraded with StartTLS) when it breaks. Used by the LDAP directory.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';
import { DirectoryError } from './directory.ts';

const OPERATION_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** Where to connect and as whom. */
export interface LdapConnectionOptions {
  readonly url: string;
  readonly bindDn: string;
  readonly bindPassword: string;
  /** PEM text of the CAs trusted for the server (ldaps://, or StartTLS on ldap://). */
  readonly tlsCa: string | undefined;
}

/** Wraps a failure as a `backend` DirectoryError (DirectoryErrors pass through). */
export function backendError(what: string, error: unknown): DirectoryError {
  if (error instanceof DirectoryError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new DirectoryError('backend', `LDAP ${what} failed: ${detail}`, { cause: error });
}

/** A bound client and whether its TCP connection has closed. */
interface BoundClient {
  readonly client: Client;
  readonly state: { lost: boolean };
}

/** The service account's connection; {@link run} is the only way to use it. */
export class LdapConnection {
  readonly #options: LdapConnectionOptions;
  #current: BoundClient | undefined;
  #connecting: Promise<BoundClient> | undefined;
  #closed = false;

  constructor(options: LdapConnectionOptions) {
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects and binds now (so that `open` reports bad credentials at once). */
  async connect(): Promise<void> {
    await this.#bound();
  }

  /** A client bound as the service account, connecting (once at a time) when needed. */
  #bound(): Promise<BoundClient> {
    if (this.#closed) return Promise.reject(new DirectoryError('backend', 'directory closed'));
    const current = this.#current;
    if (current !== undefined) {
      if (current.client.isBound && !current.state.lost) return Promise.resolve(current);
      this.#discard(current);
    }
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<BoundClient> {
    const { url, bindDn, bindPassword, tlsCa } = this.#options;
    const tlsOptions = tlsCa === undefined ? undefined : { ca: tlsCa };
    const state = { lost: false, dialled: false, upgraded: false };
    // ldapts re-dials a dropped connection by itself, and the new connection is anonymous
    // (its autoRebind does not cover StartTLS): an operation on it would silently see none of
    // the secret attributes. So each client may dial once; a second dial fails the operation
    // and run() starts a fresh client that binds (and upgrades) again.
    // ldapts also misses the close of a StartTLS-upgraded connection (its close handler
    // watches the plain socket it replaced) and would wait out the timeout on a dead socket;
    // the TCP socket's own 'close' is what tells us.
    const onClose = (): void => {
      state.lost = true;
    };
    const createConnection = ((...args: Parameters<typeof netConnect>) => {
      if (state.dialled) throw new Error('connection lost');
      state.dialled = true;
      return netConnect(...args).once('close', onClose);
    }) as typeof netConnect;
    const createSecureConnection = ((...args: Parameters<typeof tlsConnect>) => {
      if (state.upgraded) throw new Error('connection lost');
      state.upgraded = true;
      return tlsConnect(...args).once('close', onClose);
    }) as typeof tlsConnect;
    const client = new Client({
      url,
      timeout: OPERATION_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      createConnection,
      createSecureConnection,
      ...(tlsOptions !== undefined && url.startsWith('ldaps:') ? { tlsOptions } : {}),
    });
    try {
      // RFC 4513 §3: StartTLS before the bind, so the password never crosses in the clear.
      if (tlsOptions !== undefined && url.startsWith('ldap:')) await client.startTLS(tlsOptions);
      await client.bind(bindDn, bindPassword);
    } catch (error) {
      await client.unbind().catch(() => undefined);
      throw backendError(`bind as ${bindDn} to ${url}`, error);
    }
    const bound: BoundClient = { client, state };
    if (this.#closed) {
      this.#discard(bound);
      throw new DirectoryError('backend', 'directory closed');
    }
    this.#current = bound;
    return bound;
  }

  /** Drops a client whose connection failed, so that the next call reconnects. */
  #discard(bound: BoundClient): void {
    if (this.#current === bound) this.#current = undefined;
    void bound.client.unbind().catch(() => undefined);
  }

  /**
   * Runs `operation` on the bound client. An LDAP result (a ResultCodeError) is the server's
   * answer and goes back to the caller; anything else means the connection broke (server
   * restarted, idle timeout), so the client is replaced and the operation tried once more.
   */
  async run<T>(what: string, operation: (client: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const bound = await this.#bound();
      try {
        return await operation(bound.client);
      } catch (error) {
        if (error instanceof DirectoryError || error instanceof ResultCodeError) throw error;
        this.#discard(bound);
        if (attempt >= 1) throw backendError(what, error);
      }
    }
  }

  /** Unbinds; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const bound = this.#current ?? (await this.#connecting?.catch(() => undefined));
    this.#current = undefined;
    await bound?.client.unbind().catch(() => undefined);
  }
}
