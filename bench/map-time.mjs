// Time until the Fleet map with every device is drawn, in Debian's headless Chromium.
// Run by bench/pages.sh with BASE (server URL) and COOKIE (a signed-in session).
import { createRequire } from "node:module";

const require = createRequire(new URL("../end2end/package.json", import.meta.url));
const { chromium } = require("@playwright/test");
const base = process.env.BASE;
const [name, value] = process.env.COOKIE.split("=");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext();
await context.addCookies([{ name, value, url: base }]);
const page = await context.newPage();
// Tiles are unreachable here; answer them empty so they do not slow the measurement.
await page.route(/tile\.openstreetmap\.org/, (route) => route.fulfill({ status: 204 }));
for (let run = 1; run <= 3; run++) {
  const t0 = Date.now();
  await page.goto(`${base}/fleet`);
  await page.waitForSelector("body[data-hydrated=true]");
  const t1 = Date.now();
  await page.getByRole("button", { name: "Show map" }).click();
  const map = page.getByTestId("fleet-map");
  await map.locator(".marker-cluster").first().waitFor();
  const markers = await map.getAttribute("data-markers");
  const t2 = Date.now();
  // Interactive: a zoom answers.
  await page.locator(".leaflet-control-zoom-in").click();
  await page.waitForTimeout(0);
  const t3 = Date.now();
  console.log(`  run ${run}: hydrated ${t1 - t0} ms after navigation; ${markers} markers drawn ` +
    `${t2 - t1} ms after "Show map" (${t2 - t0} ms from navigation); zoom click ${t3 - t2} ms`);
}
await browser.close();
