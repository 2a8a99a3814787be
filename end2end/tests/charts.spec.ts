import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import { hydrated, signIn, watchConsole } from "./helpers";

// A demo device with a month of history (every demo device has one).
async function someDevice(page: Page) {
  const res = await page.request.post("/api/fleet", { form: { filter: "status=online" } });
  expect(res.status()).toBe(200);
  return (await res.json()).rows[0];
}

test("a device chart follows its metrics and range, and a saved chart comes back", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "customer", "/fleet");
  const device = await someDevice(page);
  await page.goto(`/devices/${device.id}`);
  await hydrated(page);
  const chart = page.getByTestId("chart");
  await expect(chart).toHaveAttribute("data-series", "Solar (W),Grid (W)");
  await expect(chart.locator("canvas")).toHaveCount(1);
  const raw = Number(await chart.getAttribute("data-points"));
  expect(raw).toBeGreaterThan(100);

  await page.getByLabel("Grid (W)").uncheck();
  await expect(chart).toHaveAttribute("data-series", "Solar (W)");
  await expect(page).toHaveURL(/m=solar(&|$)/);

  await page.getByLabel("Range").selectOption("7d");
  await expect(page).toHaveURL(/range=7d/);
  // A week comes as hourly rollups: about 168 points instead of one a minute.
  await expect
    .poll(async () => Number(await chart.getAttribute("data-points")))
    .toBeLessThanOrEqual(170);
  expect(Number(await chart.getAttribute("data-points"))).toBeGreaterThanOrEqual(160);

  await page.getByText("Save this chart").click();
  await page.locator("#chart-name").fill("My week of sun");
  await page.getByRole("button", { name: "Save chart" }).click();
  await expect(page.getByText("Saved. It is on your home page.")).toBeVisible();

  await page.goto("/");
  await hydrated(page);
  await page.reload();
  await hydrated(page);
  await page.getByRole("link", { name: "My week of sun" }).click();
  await expect(page).toHaveURL(/\/charts\?m=solar&range=7d/);
  await expect(page.getByTestId("chart")).toHaveAttribute("data-series", "Solar (W)");
  expect(errors).toEqual([]);
});

test("daily energy per local day, and its data as CSV", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, "dealer", "/charts?type=daily_energy&range=30d");
  const chart = page.getByTestId("chart");
  await expect(chart).toHaveAttribute("data-series", "Solar (kWh),Grid (kWh),Solar share (%)");
  expect(Number(await chart.getAttribute("data-points"))).toBeGreaterThanOrEqual(28);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download CSV" }).click(),
  ]);
  const csv = fs.readFileSync((await download.path())!, "utf8").trim().split(/\r?\n/);
  expect(csv[0]).toBe("date,solar_kwh,grid_kwh,solar_share_pct");
  expect(csv.length - 1).toBe(Number(await chart.getAttribute("data-points")));
  expect(csv[1]).toMatch(/^\d{4}-\d{2}-\d{2},\d+\.\d{3},\d+\.\d{3},/);
  expect(errors).toEqual([]);
});

test("a range with no data says so, and a backwards range is refused", async ({ page }) => {
  await signIn(page, "admin", "/fleet");
  const device = await someDevice(page);
  await page.goto(
    `/devices/${device.id}?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z&m=solar`,
  );
  await hydrated(page);
  await expect(page.getByTestId("chart-empty")).toContainText("No readings in this range");

  await page.getByLabel("From", { exact: true }).fill("2026-03-02T10:00");
  await page.getByLabel("To", { exact: true }).fill("2026-03-01T10:00");
  await page.getByRole("button", { name: "Show this range" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "ends before it starts" })).toBeVisible();
});

test("a fleet chart shows any metric at min, avg or max, and its time series as CSV", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "dealer", "/charts?m=temperature,rpm&agg=max&range=24h");
  const chart = page.getByTestId("chart");
  await expect(chart).toHaveAttribute("data-series", /Temperature \(°C, fleet max\)/);
  await expect(chart).toHaveAttribute("data-series", /Motor speed \(rpm, fleet max\)/);
  await expect(chart.locator("canvas")).toHaveCount(1);
  const hours = Number(await chart.getAttribute("data-points"));
  expect(hours).toBeGreaterThanOrEqual(24);

  await page.getByLabel("Aggregation").selectOption("avg");
  await expect(chart).toHaveAttribute("data-series", /Temperature \(°C, fleet avg\)/);
  await expect(page).not.toHaveURL(/agg=/);
  await page.getByLabel("Solar (W)", { exact: true }).check();
  await expect(chart).toHaveAttribute("data-series", /Solar \(W, fleet total\)/);
  await page.locator("#chart-type").selectOption("stacked");
  await expect(page).toHaveURL(/type=stacked/);
  await expect(chart.locator("canvas")).toHaveCount(1);
  // Switching the system to dark redraws the chart in the dark palette.
  await expect(chart).toHaveAttribute("data-scheme", "light");
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(chart).toHaveAttribute("data-scheme", "dark");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download CSV" }).click(),
  ]);
  const csv = fs.readFileSync((await download.path())!, "utf8").trim().split(/\r?\n/);
  expect(csv[0]).toMatch(/^time_utc,time_[A-Za-z_/]+,/);
  expect(csv[0]).toContain("temperature_deg_C");
  expect(csv[0]).toContain("solar_W");
  expect(csv.length - 1).toBe(Number(await chart.getAttribute("data-points")));
  // UTC instant, then the local hour with its zone named.
  expect(csv[1]).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:]+\+00:00,[A-Z][a-z]{2} \d{2} \d{2}:\d{2} \S+,/);
  expect(errors).toEqual([]);
});

test("a bookmarked chart link with a backwards range says so and shows the default", async ({
  page,
}) => {
  await signIn(page, "customer", "/charts?m=solar&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z");
  await hydrated(page);
  await expect(
    page.getByRole("alert").filter({ hasText: "not understood (the range ends before it starts" }),
  ).toBeVisible();
  await expect(page.getByTestId("chart")).toHaveAttribute("data-series", /Solar/);
});
