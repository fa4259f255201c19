// Send → receive latency of private messages between SDK clients in Node, at a steady
// total rate over 50 sender → receiver pairs: the shape of `meridian bench ws`, which
// measures the Rust SDK, so both can run one after the other on the same binary.
//   MERIDIAN_BIN=… node dist/test/bench/latency.js [rate=1000] [seconds=10]
// Prints one JSON line: sent, received, lost, p50/p99/max in ms.

import { performance } from "node:perf_hooks";

import type { MeridianClient } from "../../src/index.js";
import { Dev } from "../dev.js";

const PAIRS = 50;
const rate = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 10);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const dev = await Dev.start("SG", ["--nodes", "1", "--sends-per-second", "1000000"]);
try {
  const senders: MeridianClient[] = [];
  const latencies: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const receiver = await dev.client(`r${i}`);
    receiver.on("message", (m) => {
      const sentAt = Number(JSON.parse(m.content).t);
      latencies.push(performance.now() - sentAt);
    });
    await receiver.connect();
    const sender = await dev.client(`s${i}`);
    await sender.connect();
    senders.push(sender);
  }

  // Each pair sends every PAIRS/rate seconds, the pairs spread evenly over that period.
  const every = (PAIRS / rate) * 1000;
  const total = Math.round(rate * seconds);
  let sent = 0;
  const acks: Promise<unknown>[] = [];
  const started = performance.now();
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due) {
        const i = sent % PAIRS;
        const content = JSON.stringify({ t: performance.now(), n: sent });
        acks.push(senders[i]!.send({ conversationType: 1, targetId: `r${i}`, objectName: "RC:TxtMsg", content }));
        sent += 1;
      }
      if (sent >= total) done();
      else setTimeout(tick, Math.max(1, every / PAIRS));
    };
    tick();
  });
  await Promise.all(acks);
  // Receivers still counting: done once everything arrived or nothing did for 2 s.
  let last = -1;
  while (latencies.length < total && latencies.length !== last) {
    last = latencies.length;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      sdk: "js",
      rate,
      seconds,
      pairs: PAIRS,
      sent,
      received: latencies.length,
      lost: sent - latencies.length,
      p50_ms: round(percentile(sorted, 50)),
      p99_ms: round(percentile(sorted, 99)),
      max_ms: round(sorted[sorted.length - 1] ?? NaN),
    }),
  );
} finally {
  await dev.dispose();
}
