// Builds the dashboard into ui/dist, which `hwameistor rest` serves at /. `npm run dev` proxies the API to a
// running `hwameistor rest --insecure-http --port 8080` (set HWAMEISTOR_REST to point elsewhere).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1200 },
  server: { proxy: { "/apis": process.env.HWAMEISTOR_REST ?? "http://127.0.0.1:8080" } },
});
