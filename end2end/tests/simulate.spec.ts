import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { hydrated, signIn } from "./helpers";

// Runs after fleet.spec.ts (files run in name order on one worker): it changes the fleet.

test("the fleet simulator brings silent devices back online on the fleet page", async ({
  page,
  baseURL,
}) => {
  const errors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  page.on("pageerror", (err) => errors.push(String(err)));

  await signIn(page, "admin", "/fleet?status=offline");
  const offline = page.locator("table.fleet tbody tr:has(span.badge.offline)");
  // "N of 240 devices": how many are offline in all, not just on this page.
  const matched = async () =>
    Number((await page.getByTestId("fleet-count").textContent())!.split(" ")[0]);
  const before = await matched();
  expect(before, "the demo has devices that went silent").toBeGreaterThan(0);
  const silent = (await offline.first().locator("a").first().textContent())!.trim();

  // The real simulator, over HTTP, through the Particle webhook with the demo secret.
  const summary = execFileSync(
    process.env.SUNFLEET_BIN!,
    ["simulate", "--url", baseURL!, "--devices", "240", "--rate", "max", "--duration", "3s", "--quiet"],
    { encoding: "utf8" },
  );
  expect(summary).toMatch(/rejected 0, busy \(503\) 0, failed 0/);

  // Under load the latest statuses are written within 10 s; reload until they are.
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    expect(await matched()).toBeLessThan(before);
  }).toPass({ timeout: 30_000 });
  await page.goto("/fleet");
  await hydrated(page);
  await page.getByLabel("Search").fill(silent);
  const row = page.locator("table.fleet tbody tr", { hasText: silent });
  await expect(row.locator("span.badge.online")).toHaveCount(1);
  await expect(row).toContainText(/\d+(\.\d+)? k?W/);
  expect(errors).toEqual([]);
});
