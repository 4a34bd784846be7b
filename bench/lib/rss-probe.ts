// `node --import tsx bench/lib/rss-probe.ts [MODULE]`: imports MODULE (nothing without one), waits for the
// start-up garbage to settle and prints {"rssBytes": N} — what importing a module costs in resident memory.
// The control-plane case uses it to explain a node agent's footprint.
const mod = process.argv[2];
if (mod) await import(mod);
await new Promise((r) => setTimeout(r, 1500));
(globalThis as { gc?: () => void }).gc?.();
process.stdout.write(JSON.stringify({ rssBytes: process.memoryUsage().rss }) + "\n");
