// Node-only helpers, kept out of the browser entry point so a bundle never pulls in `fs`.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

import type { KeyValueStore } from "./store.js";

/**
 * A JSON file: the cursor survives a process restart. Each write replaces the file
 * atomically (write a temporary file, then rename), so a crash never leaves it half written.
 */
export class FileStore implements KeyValueStore {
  private values: Record<string, string> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  private async load(): Promise<Record<string, string>> {
    if (this.values) return this.values;
    try {
      this.values = JSON.parse(await readFile(this.path, "utf8")) as Record<string, string>;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      this.values = {};
    }
    return this.values;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.load())[key];
  }

  async set(key: string, value: string): Promise<void> {
    const values = await this.load();
    values[key] = value;
    const text = JSON.stringify(values);
    // Writes are chained so an older value never lands after a newer one.
    this.writing = this.writing.catch(() => {}).then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, text);
      await rename(temporary, this.path);
    });
    await this.writing;
  }
}
