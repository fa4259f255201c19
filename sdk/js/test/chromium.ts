// The system's chromium (browser builds cannot be downloaded here), as every browser
// test drives it.

import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

import puppeteer, { type Browser } from "puppeteer-core";

/** Chromium's stand-ins for a camera and a microphone, allowed without asking. */
export const FAKE_MEDIA = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  // Watched audio plays without a click (received audio is decoded only while it plays).
  "--autoplay-policy=no-user-gesture-required",
];

/** Where the demo's tests keep screenshots of what a person sees (DEMO_SCREENSHOTS, or
 * dist/screenshots). */
export function screenshotPath(name: string): string {
  const dir = process.env.DEMO_SCREENSHOTS ?? join(dirname(fileURLToPath(import.meta.url)), "..", "screenshots");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

export function launchChromium(args: string[] = []): Promise<Browser> {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    protocolTimeout: 60_000,
    // Chromium's sandbox refuses to run as root (CI runs as root).
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), ...args],
  });
}

/** dist/src: the compiled SDK, served to the page as it is. */
const SDK_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "src");

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Meridian SDK in a browser</title>
<script type="module">
  import * as sdk from "/sdk/index.js";
  window.sdk = sdk;
</script>`;

/** A static server for the page and the SDK, on another origin than nav's. */
export async function serveSdkPage(): Promise<{ server: Server; origin: string }> {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/") {
      response.writeHead(200, { "Content-Type": "text/html" }).end(PAGE);
      return;
    }
    const file = normalize(join(SDK_DIR, path.replace(/^\/sdk\//, "")));
    if (!path.startsWith("/sdk/") || !file.startsWith(SDK_DIR)) {
      response.writeHead(404).end();
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "Content-Type": "text/javascript" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { server, origin: `http://127.0.0.1:${port}` };
}


