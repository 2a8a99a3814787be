import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";

// The release binary built by scripts/build.sh, on a fresh demo database each run.
const bin = process.env.SUNFLEET_BIN;
if (!bin) throw new Error("SUNFLEET_BIN is not set: run the tests through scripts/test");
const port = Number(process.env.E2E_PORT ?? 3999);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sunfleet-e2e-"));

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium; flags from BUILD.md (headless as root on a closed network).
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `"${bin}" serve --demo --addr 127.0.0.1:${port} --db "surrealkv://${dataDir}/db"`,
    url: `http://127.0.0.1:${port}/readyz`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  },
});
