// Test harness: a real `meridian dev` process (the binary named by MERIDIAN_BIN), tokens
// from its Server API signed as an app server signs them, and SDK clients wired to it.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { WebSocket } from "ws";

import { MeridianClient, type ClientEvents, type ClientOptions } from "../src/index.js";

export interface Endpoints {
  nav: string[];
  operatorToken: string;
  /** The web demo's page. */
  demo?: string;
  /** The web console. */
  console?: string;
  areas: Record<
    string,
    {
      api: string[];
      edges: { ws: string; admin: string }[];
      apps: { env: string; appKey: string; appSecret: string }[];
    }
  >;
}

function binary(): string {
  const bin = process.env.MERIDIAN_BIN;
  if (!bin || !existsSync(bin)) {
    throw new Error("set MERIDIAN_BIN to a built meridian binary (cargo build --bin meridian)");
  }
  return bin;
}

/** A port base below the ephemeral range, away from the Rust tests' (20000–29999). */
function portBase(attempt: number): number {
  return 30_000 + ((process.pid + attempt * 37) % 120) * 20;
}

export class Dev {
  endpoints!: Endpoints;
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "meridian-sdk-js-"));
  private base = 0;
  /** Every client made by `client()`, closed by `dispose()` even when a test failed. */
  private readonly clients: MeridianClient[] = [];
  private readonly killOnExit = () => this.child?.kill("SIGKILL");

  private constructor(
    private readonly area: string,
    private readonly args: string[],
  ) {
    process.on("exit", this.killOnExit);
  }

  /** Starts `meridian dev --areas <area>` with `args` and waits for its endpoints.json. */
  static async start(area: string, args: string[] = []): Promise<Dev> {
    const dev = new Dev(area, args);
    for (let attempt = 0; attempt < 10; attempt++) {
      dev.base = portBase(attempt);
      if (await dev.launch()) return dev;
      rmSync(join(dev.dir, "data"), { recursive: true, force: true });
    }
    throw new Error("meridian dev did not start on any port base");
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  /** Spawns the process; false if it exited before writing endpoints.json (ports taken). */
  private async launch(): Promise<boolean> {
    const endpoints = join(this.dataDir, "endpoints.json");
    if (existsSync(endpoints)) unlinkSync(endpoints);
    const child = spawn(
      binary(),
      ["dev", "--areas", this.area, ...this.args, "--port-base", String(this.base), "--data-dir", this.dataDir],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, RUST_LOG: "error" } },
    );
    let log = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    this.child = child;
    let exited = false;
    child.once("exit", () => (exited = true));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (exited) return false;
      if (existsSync(endpoints)) {
        try {
          this.endpoints = JSON.parse(readFileSync(endpoints, "utf8")) as Endpoints;
          return true;
        } catch {
          // Being written; read it again.
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill("SIGKILL");
    throw new Error(`meridian dev wrote no endpoints.json in 30 s:\n${log}`);
  }

  /** SIGKILL (a crash: edge, nav and every node of the area die at once) or SIGTERM (a drain). */
  async stop(signal: "SIGKILL" | "SIGTERM" = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  /** Starts it again on the same data dir and ports: same apps, users and messages. */
  async restart(): Promise<void> {
    if (!(await this.launch())) throw new Error("meridian dev did not restart");
  }

  /** Stops it and removes its data. */
  async dispose(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await this.stop("SIGTERM");
    process.off("exit", this.killOnExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  get app(): { appKey: string; appSecret: string } {
    const app = this.endpoints.areas[this.area]!.apps.find((a) => a.env === "dev");
    if (!app) throw new Error("no dev app in endpoints.json");
    return app;
  }

  get apiUrl(): string {
    return this.endpoints.areas[this.area]!.api[0]!;
  }

  /**
   * A Server API call signed with the secret of `app` (the demo app unless named), as
   * COMPAT.md says: the JSON answer.
   */
  async api(
    path: string,
    form: [string, string][],
    app: { appKey: string; appSecret: string } = this.app,
  ): Promise<Record<string, unknown>> {
    const nonce = String(randomBytes(4).readUInt32BE());
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHash("sha1")
      .update(app.appSecret + nonce + timestamp)
      .digest("hex");
    const response = await fetch(`${this.apiUrl}${path}`, {
      method: "POST",
      headers: {
        "App-Key": app.appKey,
        Nonce: nonce,
        Timestamp: timestamp,
        Signature: signature,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(form).toString(),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status !== 200 || body.code !== 200) {
      throw new Error(`${path} answered ${response.status}: ${JSON.stringify(body)}`);
    }
    return body;
  }

  /** An operator admin API call (`/admin/v1…` on the area's edge): status and JSON body. */
  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const edge = this.endpoints.areas[this.area]!.edges[0]!.admin;
    const response = await fetch(`${edge}/admin/v1${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.endpoints.operatorToken}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  async token(userId: string): Promise<string> {
    return (await this.api("/user/getToken.json", [["userId", userId]])).token as string;
  }

  /** A client of `userId` through both navs, with `ws` as its WebSocket (Node 20 has none). */
  async client(userId: string, options: Partial<ClientOptions> = {}): Promise<MeridianClient> {
    const client = new MeridianClient({
      appKey: this.app.appKey,
      token: options.token ?? (await this.token(userId)),
      navs: this.endpoints.nav,
      deviceId: `${userId}-web`,
      WebSocket,
      backoff: { firstMs: 100, maxMs: 2_000 },
      ...options,
    });
    this.clients.push(client);
    return client;
  }
}

/** Collects what a client hears of one event (its messages unless told), and waits for
 * what a test expects. */
export class Inbox<K extends keyof ClientEvents = "message"> {
  readonly messages: ClientEvents[K][] = [];
  private waiters: { accept: (m: ClientEvents[K]) => boolean; resolve: (m: ClientEvents[K]) => void }[] = [];

  constructor(client: MeridianClient, event: K = "message" as K) {
    client.on(event, (heard) => {
      this.messages.push(heard);
      this.waiters = this.waiters.filter((w) => {
        if (!w.accept(heard)) return true;
        w.resolve(heard);
        return false;
      });
    });
  }

  /** The first one (already heard or still to come) that `accept` holds for. */
  next(accept: (m: ClientEvents[K]) => boolean, timeoutMs = 10_000): Promise<ClientEvents[K]> {
    const seen = this.messages.find(accept);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such message in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        accept,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }
}

/** Rejects if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
