import type { Binding, BindingStore } from './types.ts';

/**
 * A {@link BindingStore} in a Map, for tests and for deployments that accept losing
 * registrations on restart. Stores copies, as a real store would.
 */
export class InMemoryBindingStore implements BindingStore {
  private readonly bindings = new Map<string, Binding>();
  /** When set, the next operations reject with it (tests of store failure). */
  failWith: Error | undefined;

  /** Number of stored bindings. */
  get size(): number {
    return this.bindings.size;
  }

  /** The stored copy of a binding. */
  get(id: string): Binding | undefined {
    return this.bindings.get(id);
  }

  save(binding: Binding): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.bindings.set(binding.id, structuredClone(binding));
    return Promise.resolve();
  }

  delete(id: string): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.bindings.delete(id);
    return Promise.resolve();
  }

  loadAll(): Promise<readonly Binding[]> {
    return Promise.resolve([...this.bindings.values()].map((b) => structuredClone(b)));
  }
}
