// The system's chromium (browser builds cannot be downloaded here), as every browser
// test drives it.

import puppeteer, { type Browser } from "puppeteer-core";

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    protocolTimeout: 60_000,
    // Chromium's sandbox refuses to run as root (CI runs as root).
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
}
