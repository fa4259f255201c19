// Browser pages publishing over WHIP and watching over WHEP, in Debian's chromium
// (puppeteer-core) with its fake camera and microphone. Driven by tests/media.rs through
// lines of JSON:
//   env CHROMIUM (optional; PAGE_CONSOLE=1 copies the pages' console to stderr)
//   stdin:  one command a line, each for a named page (opened at its first command):
//           {"do":"publish","page","url","token","layers"?}: camera + microphone,
//             POSTed to `url`; `layers` (rids, biggest first) sends video in simulcast,
//             each layer half the size of the one before
//           {"do":"subscribe","page","url","token"}: one audio and one video receiver
//           {"do":"stats","page"}: the page's inbound audio and video, and the
//             protocol ("udp" or "tcp") of its selected candidate pair
//           {"do":"hangup","page"}: DELETE the page's resource, close its connection
//           {"do":"quit"}
//   stdout: one answer a command: {"event": <its name>, "page", …}, or
//           {"event":"error",…} when something fails.
// The pages come from a local server on another origin than the media server's, as a
// web app's would (CORS); 127.0.0.1 is a secure context, so getUserMedia works.

import { createServer } from "node:http";
import { createInterface } from "node:readline";

import puppeteer from "puppeteer-core";

const report = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

// What runs in each page: a WHIP/WHEP exchange and a digest of getStats().
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>WHIP/WHEP against Meridian</title>
<script>
async function offer(pc, url, token) {
  await pc.setLocalDescription(await pc.createOffer());
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + token },
    body: pc.localDescription.sdp,
  });
  const body = await response.text();
  if (response.status !== 201) {
    pc.close();
    return { status: response.status, body };
  }
  await pc.setRemoteDescription({ type: "answer", sdp: body });
  window.pc = pc;
  window.resource = new URL(response.headers.get("Location"), url).href;
  return { status: 201, location: response.headers.get("Location") };
}

window.hangup = async () => {
  const response = await fetch(window.resource, { method: "DELETE" });
  window.pc.close();
  return { status: response.status };
};

window.publish = async (url, token, layers) => {
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const pc = new RTCPeerConnection();
  for (const track of media.getTracks()) {
    const init = { direction: "sendonly" };
    if (layers && track.kind === "video") {
      init.sendEncodings = layers.map((rid, i) => ({ rid, scaleResolutionDownBy: 2 ** i }));
    }
    pc.addTransceiver(track, init);
  }
  return offer(pc, url, token);
};

window.subscribe = async (url, token) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  return offer(pc, url, token);
};

window.stats = async () => {
  const out = { state: window.pc ? window.pc.connectionState : "none", audio: null, video: null };
  if (!window.pc) return out;
  const report = await window.pc.getStats();
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = report.get(s.selectedCandidatePairId);
      out.protocol = report.get(pair?.localCandidateId)?.protocol ?? null;
    }
    if (s.type !== "inbound-rtp") return;
    out[s.kind] = {
      packetsReceived: s.packetsReceived ?? 0,
      framesDecoded: s.framesDecoded ?? 0,
      frameWidth: s.frameWidth ?? 0,
    };
  });
  return out;
};
</script>`;

async function servePage() {
  const server = createServer((_, response) => {
    response.writeHead(200, { "Content-Type": "text/html" }).end(PAGE);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

const site = await servePage();
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  protocolTimeout: 30_000,
  args: [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    // The media server's candidate is a loopback address in these tests.
    "--allow-loopback-in-peer-connection",
    // Chromium's sandbox refuses to run as root (CI runs as root).
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
  ],
});
const pages = new Map();

async function page(name) {
  if (!pages.has(name)) {
    const page = await browser.newPage();
    page.on("pageerror", (e) => report({ event: "error", where: name, error: String(e) }));
    if (process.env.PAGE_CONSOLE) {
      page.on("console", (m) => process.stderr.write(`${name}: ${m.text()}\n`));
    }
    await page.goto(`${site.origin}/`);
    pages.set(name, page);
  }
  return pages.get(name);
}

let status = 0;
try {
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line);
    if (command.do === "quit") break;
    const answer = await (await page(command.page)).evaluate(
      (command) =>
        command.url
          ? window[command.do](command.url, command.token, command.layers)
          : window[command.do](),
      command,
    );
    report({ event: command.do, page: command.page, ...answer });
  }
} catch (e) {
  report({ event: "error", where: "script", error: String(e?.stack ?? e) });
  status = 1;
}
await browser.close();
site.server.close();
process.exit(status);
