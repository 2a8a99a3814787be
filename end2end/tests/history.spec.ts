import { test, expect } from "@playwright/test";
import * as fs from "node:fs";
import { hydrated, signIn, watchConsole } from "./helpers";

test("a dealer filters the history to critical faults, pages back, and exports it as CSV", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "dealer", "/history");
  await hydrated(page);
  const rows = page.locator("table.history tbody tr");
  await expect(rows.first()).toBeVisible();

  await page.getByLabel("Kind").selectOption("faults");
  await page.getByLabel("Severity").selectOption("critical");
  await page.getByLabel("Time").selectOption("30d");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/kind=faults/);
  await expect(page).toHaveURL(/severity=critical/);
  await expect(page).toHaveURL(/range=30d/);
  // The demo's faulty devices raise faults: only those show, with the code's meaning.
  await expect(rows.first()).toHaveAttribute("data-kind", "fault");
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-kind")));
  expect(new Set(kinds)).toEqual(new Set(["fault"]));
  await expect(rows.first().locator(".badge")).toHaveText("critical");
  await expect(rows.first()).toContainText(/fault \d+: \w/);
  const shown = await rows.count();
  expect(shown).toBeGreaterThan(0);

  // Older events follow a cursor; the newest page is one link away.
  const older = page.getByRole("link", { name: "Older events →" });
  if (shown === 50) {
    const first = await rows.first().locator("time").getAttribute("datetime");
    await older.click();
    await expect(page).toHaveURL(/before=/);
    await expect(rows.first()).toHaveAttribute("data-kind", "fault");
    const next = await rows.first().locator("time").getAttribute("datetime");
    expect(Date.parse(next!)).toBeLessThanOrEqual(Date.parse(first!));
    await page.getByRole("link", { name: "← Back to newest" }).click();
    await expect(page).not.toHaveURL(/before=/);
  } else {
    await expect(older).toHaveCount(0);
  }

  // The CSV holds the same view.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^sunfleet-history-.*\.csv$/);
  const csv = fs.readFileSync((await download.path())!, "utf8");
  const lines = csv.trim().split(/\r?\n/);
  expect(lines[0]).toBe("time,device,device_name,organisation,category,kind,severity,message,actor");
  expect(lines.length - 1).toBeGreaterThanOrEqual(shown);
  for (const line of lines.slice(1)) expect(line).toContain(",faults,fault,critical,");

  // A bad custom range is explained, not sent.
  await page.getByLabel("Time").selectOption("custom");
  await page.getByLabel("From", { exact: true }).fill("2026-11-02T10:00");
  await page.getByLabel("To", { exact: true }).fill("2026-11-01T10:00");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByRole("alert")).toContainText("ends before it starts");
  expect(errors).toEqual([]);
});

test("a device page shows its recent events and links to its full history", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, "customer", "/fleet");
  await page.locator("table.fleet tbody tr a").first().click();
  await expect(page).toHaveURL(/\/devices\//);
  const id = decodeURIComponent(page.url().split("/devices/")[1]);
  // Loaded from the server too (not only by the router), it hydrates cleanly.
  await page.reload();
  await hydrated(page);
  const card = page.locator("section.card", { has: page.getByRole("heading", { name: "Recent events" }) });
  await expect(card.locator("tbody tr").first()).toBeVisible();
  expect(await card.locator("tbody tr").count()).toBeLessThanOrEqual(10);
  await card.getByRole("link", { name: /Full history/ }).click();
  await expect(page).toHaveURL(new RegExp(`/history\\?device=${id}&range=1y`));
  await hydrated(page);
  await expect(page.getByLabel("Device")).toHaveValue(id);
  await expect(page.locator("table.history tbody tr").first()).toBeVisible();
  // One device's history has no device column.
  await expect(page.locator("table.history thead")).not.toContainText("Device");
  expect(errors).toEqual([]);
});

test("a history link opens with its filters applied", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, "admin", "/");
  await page.goto("/history?kind=faults&range=30d");
  await hydrated(page);
  await expect(page.getByLabel("Kind")).toHaveValue("faults");
  await expect(page.getByLabel("Time")).toHaveValue("30d");
  await expect(page.locator("table.history tbody tr").first()).toHaveAttribute("data-kind", /fault/);
  // One kind of the category, picked from the same list.
  await page.getByLabel("Kind").selectOption("fault_cleared");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/kind=fault_cleared/);
  const rows = page.locator("table.history tbody tr");
  await expect(rows.first()).toHaveAttribute("data-kind", "fault_cleared");
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-kind")));
  expect(new Set(kinds)).toEqual(new Set(["fault_cleared"]));
  await expect(page.getByLabel("Kind")).toHaveValue("fault_cleared");
  expect(errors).toEqual([]);
});
