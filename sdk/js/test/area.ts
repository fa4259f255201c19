// An area as separate processes of the binary (MERIDIAN_BIN): three cluster nodes, an
// edge and a nav, so a test can SIGKILL the Raft leader alone and start it again, as
// tests/sessions_failover.rs does from Rust.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { WebSocket } from "ws";

import { MeridianClient, type ClientOptions } from "../src/index.js";

const TOKEN = "test-operator-token-0123456789";
const NODES = [1, 2, 3];

/** Ports above the ones `Dev` uses (30000–32399 there), below the ephemeral range. */
function portBase(attempt: number): number {
  return 32_400 + ((process.pid + attempt * 13) % 17) * 20;
}

export class Area {
  private readonly dir = mkdtempSync(join(tmpdir(), "meridian-sdk-js-area-"));
  private readonly children = new Map<string, ChildProcess>();
  private readonly killOnExit = () => this.children.forEach((c) => c.kill("SIGKILL"));
  private readonly base: number;
  app = { appKey: "", appSecret: "" };

  private constructor(attempt: number) {
    this.base = portBase(attempt);
    process.on("exit", this.killOnExit);
  }

  private rpc(id: number): number {
    return this.base + 2 * (id - 1);
  }
  private admin(id: number): number {
    return this.base + 2 * (id - 1) + 1;
  }
  get edgePort(): number {
    return this.base + 10;
  }
  get nav(): string {
    return `http://127.0.0.1:${this.base + 12}`;
  }
  get api(): string {
    return `http://127.0.0.1:${this.edgePort}`;
  }

  /** Writes the configurations, starts every process, creates an app. */
  static async start(): Promise<Area> {
    const area = new Area(0);
    try {
      area.configure();
      for (const id of NODES) area.startNode(id);
      area.launch("edge", ["edge", "--config", join(area.dir, "edge.toml")]);
      area.launch("nav", ["nav", "--config", join(area.dir, "nav.toml")]);
      area.app = await area.createApp();
      return area;
    } catch (e) {
      await area.dispose(); // running children would keep the test process alive
      throw e;
    }
  }

  private configure(): void {
    const peers = NODES.map((id) => `{ id = ${id}, addr = "127.0.0.1:${this.rpc(id)}" }`).join(", ");
    const cluster = NODES.map((id) => `"127.0.0.1:${this.rpc(id)}"`).join(", ");
    for (const id of NODES) {
      writeFileSync(
        join(this.dir, `node-${id}.toml`),
        `area = "SG"\nnode_id = ${id}\ndata_dir = "${join(this.dir, `node-${id}`)}"\n` +
          `rpc_listen = "127.0.0.1:${this.rpc(id)}"\nadmin_listen = "127.0.0.1:${this.admin(id)}"\n` +
          `operator_token = "${TOKEN}"\npeers = [${peers}]\n`,
      );
    }
    writeFileSync(
      join(this.dir, "edge.toml"),
      `listen = "127.0.0.1:${this.edgePort}"\nadmin_listen = "127.0.0.1:${this.edgePort + 1}"\n` +
        `operator_token = "${TOKEN}"\nareas = [{ area = "SG", cluster = [${cluster}] }]\n` +
        `[sessions]\nsends_per_second = 100000\n`,
    );
    writeFileSync(
      join(this.dir, "nav.toml"),
      `listen = "127.0.0.1:${this.base + 12}"\nrole = "primary"\n` +
        `[[areas]]\narea = "SG"\ncluster = [${cluster}]\nedges = ["${this.api}"]\napi = ["${this.api}"]\n`,
    );
  }

  private launch(name: string, args: string[]): void {
    const bin = process.env.MERIDIAN_BIN;
    if (!bin) throw new Error("set MERIDIAN_BIN to a built meridian binary");
    const child = spawn(bin, args, { stdio: "ignore", env: { ...process.env, RUST_LOG: "error" } });
    this.children.set(name, child);
  }

  startNode(id: number): void {
    this.launch(`node-${id}`, ["cluster", "run", "--config", join(this.dir, `node-${id}.toml`)]);
  }

  /** SIGKILL: nothing of the node's shutdown code runs. */
  async killNode(id: number): Promise<void> {
    const child = this.children.get(`node-${id}`);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  /** The leader as the running nodes see it, once one is elected (and not `except`). */
  async leader(except?: number, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const id of NODES) {
        if (id === except) continue;
        const status = await this.adminCall(`http://127.0.0.1:${this.admin(id)}`, "GET", "/admin/v1/cluster").catch(
          () => undefined,
        );
        const leader = (status as { status?: { leader?: number | null } } | undefined)?.status?.leader;
        if (leader !== undefined && leader !== null && leader !== except) return leader;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("no leader elected");
  }

  private async adminCall(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  /** Creates the app through the edge's admin API once the cluster has a leader. */
  private async createApp(): Promise<{ appKey: string; appSecret: string }> {
    await this.leader();
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const answer = (await this.adminCall(this.api, "POST", "/admin/v1/apps", { name: "failover" })) as {
          app: { dev: { appKey: string; appSecret: string } };
        };
        return answer.app.dev;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100)); // the edge is still starting
      }
    }
  }

  async token(userId: string): Promise<string> {
    const nonce = String(randomBytes(4).readUInt32BE());
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHash("sha1").update(this.app.appSecret + nonce + timestamp).digest("hex");
    const response = await fetch(`${this.api}/user/getToken.json`, {
      method: "POST",
      headers: {
        "App-Key": this.app.appKey,
        Nonce: nonce,
        Timestamp: timestamp,
        Signature: signature,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ userId }).toString(),
    });
    const body = (await response.json()) as { code: number; token: string };
    if (body.code !== 200) throw new Error(`getToken: ${JSON.stringify(body)}`);
    return body.token;
  }

  async client(userId: string, options: Partial<ClientOptions> = {}): Promise<MeridianClient> {
    return new MeridianClient({
      appKey: this.app.appKey,
      token: await this.token(userId),
      navs: [this.nav],
      deviceId: `${userId}-node`,
      WebSocket,
      backoff: { firstMs: 100, maxMs: 1_000 },
      ...options,
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      }),
    );
    process.off("exit", this.killOnExit);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
