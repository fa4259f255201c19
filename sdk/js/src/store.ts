// Where the client keeps what must outlive it: the last processed cursor (so a reload
// resumes exactly, WEB-03) and nav's last answer (used when every nav is unreachable).
// Pluggable: IndexedDB in a browser, memory by default, a file in Node (`./node.js`).

export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

/** Lives as long as the object: for tests, and apps that resume only within a page. */
export class MemoryStore implements KeyValueStore {
  private readonly values = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

/** A browser's IndexedDB: survives reloads and tab restarts. */
export class IndexedDbStore implements KeyValueStore {
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly name = "meridian") {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("kv");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.db;
  }

  async get(key: string): Promise<string | undefined> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const request = db.transaction("kv", "readonly").objectStore("kv").get(key);
      request.onsuccess = () => resolve(request.result as string | undefined);
      request.onerror = () => reject(request.error);
    });
  }

  async set(key: string, value: string): Promise<void> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("kv", "readwrite");
      tx.objectStore("kv").put(value, key);
      // Resolved once durable, so a cursor is never ahead of what survives a crash.
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
}
