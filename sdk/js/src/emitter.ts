// A small typed event emitter whose emit waits for async listeners, so the client can
// treat a message as processed (and move its cursor) only after the app handled it.

export type Listener<T> = (value: T) => void | Promise<void>;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Resolves when `event` next happens and `accept` (if given) holds. */
  once<K extends keyof Events>(
    event: K,
    accept: (value: Events[K]) => boolean = () => true,
  ): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (value) => {
        if (!accept(value)) return;
        off();
        resolve(value);
      });
    });
  }

  /** Calls the listeners in order, awaiting each. A listener's failure is reported, not thrown. */
  protected async emit<K extends keyof Events>(event: K, value: Events[K]): Promise<void> {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        await (listener as Listener<Events[K]>)(value);
      } catch (e) {
        // An app bug must not stall delivery; it is visible in the console.
        console.error(`meridian: a '${String(event)}' listener threw`, e);
      }
    }
  }
}
