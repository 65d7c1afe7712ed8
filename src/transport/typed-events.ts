import type { Logger } from '../lib/logger.ts';

type Listener<Args extends readonly unknown[]> = (...args: Args) => void;

/**
 * A minimal typed event emitter. A listener that throws is logged and skipped: it never
 * breaks the socket callback that emitted the event nor the other listeners.
 */
export class TypedEvents<Events extends { [K in keyof Events]: readonly unknown[] }> {
  private readonly listeners: { [K in keyof Events]?: Set<Listener<Events[K]>> } = {};
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners[event];
    if (set === undefined) {
      set = new Set();
      this.listeners[event] = set;
    }
    set.add(listener);
    return () => {
      this.off(event, listener);
    };
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners[event]?.delete(listener);
  }

  /** Calls every listener of `event` with `args`, isolating exceptions. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners[event];
    if (set === undefined) return;
    for (const listener of set) {
      try {
        listener(...args);
      } catch (error) {
        this.logger.error({ err: error, event: String(event) }, 'transport event listener threw');
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    for (const key of Object.keys(this.listeners) as (keyof Events)[]) {
      this.listeners[key]?.clear();
    }
  }
}
