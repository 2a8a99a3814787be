import { test, expect, APIRequestContext } from "@playwright/test";
import { hydrated, signIn, watchConsole } from "./helpers";

// The admin sees the whole demo fleet.
test.beforeEach(async ({ page }) => {
  await signIn(page, "admin");
});

// Same formatting as app/src/ui/format.rs: to the shown digit, halves away from zero.
const round = (x: number) => Math.sign(x) * Math.round(Math.abs(x));
function watts(w: number): string {
  if (Math.abs(w) < 1000) return `${round(w).toFixed(0)} W`;
  if (Math.abs(w) < 10000) return `${(round(w / 10) / 100).toFixed(2)} kW`;
  return `${(round(w / 100) / 10).toFixed(1)} kW`;
}

async function callFn(request: APIRequestContext, fn: string, form: Record<string, string>) {
  const res = await request.post(`/api/${fn}`, { form });
  expect(res.status(), `/api/${fn}`).toBe(200);
  return res.json();
}

test("filter the fleet, open a device and see its values from the database", async ({
  page,
}) => {
  const errors = watchConsole(page);
  // The page's own request context carries the session cookie.
  const request = page.request;
  // What the database says, through the same server function the page uses.
  const fleet = await callFn(request, "fleet", { filter: "" });
  expect(fleet.total).toBeGreaterThanOrEqual(200);
  // Absent values are left out of the rows (not sent as null).
  const device = fleet.rows.find(
    (r: any) => r.connectivity === "online" && r.fault_code === undefined && r.solar_w !== undefined,
  );
  const detail = await callFn(request, "device", { id: device.id });
  expect(detail.name).toBe(device.name);

  await page.goto("/fleet");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Fleet", level: 1 })).toBeVisible();
  await expect(page.getByText(`${fleet.total} devices`)).toBeVisible();
  const rows = page.locator("table.fleet tbody tr");
  await expect(rows).toHaveCount(Math.min(50, fleet.total));

  // Filtering narrows the list live and is kept in the URL.
  await page.getByLabel("Search").fill(device.name);
  await expect(page).toHaveURL(/\?q=/);
  await expect(page.getByRole("link", { name: device.name, exact: true })).toBeVisible();
  await expect.poll(async () => rows.count()).toBeLessThan(50);
  await expect(page.getByText(new RegExp(`of ${fleet.total} devices`))).toBeVisible();

  await page.getByRole("link", { name: device.name, exact: true }).click();
  await expect(page).toHaveURL(`/devices/${device.id}`);
  await expect(page.getByRole("heading", { name: device.name, level: 1 })).toBeVisible();
  const facts = page.locator("dl.facts");
  await expect(facts.getByText(detail.owner, { exact: true })).toBeVisible();
  await expect(facts.getByText(detail.model, { exact: true })).toBeVisible();
  await expect(facts.getByText(detail.firmware, { exact: true })).toBeVisible();
  await expect(facts.getByText(device.id, { exact: true })).toBeVisible();
  await expect(page.getByText("online", { exact: true })).toBeVisible();

  // Latest power as stored. The demo posts a new reading every minute, so compare the page
  // with the database as read right after the page; across a minute edge, look again.
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    const now = await callFn(request, "device", { id: device.id });
    await expect(page.getByTestId("solar-w")).toHaveText(watts(now.latest.solar_w), { timeout: 500 });
    await expect(page.getByTestId("grid-w")).toHaveText(watts(now.latest.grid_w), { timeout: 500 });
  }).toPass({ timeout: 30_000 });

  expect(errors, "browser console errors").toEqual([]);
});

test("an empty filter result says so and offers the whole fleet back", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto("/fleet");
  await hydrated(page);
  await page.getByLabel("Search").fill("no device is called this");
  await expect(page.getByText("No device matches this filter.")).toBeVisible();
  await page.getByRole("link", { name: "Show all devices" }).click();
  await expect(page.locator("table.fleet tbody tr").first()).toBeVisible();
  expect(errors).toEqual([]);
});

test("an unknown device is a 404 page", async ({ page }) => {
  const response = await page.goto("/devices/e00fce68ffffffffffffffff");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await expect(page.getByText("There is no device here.", { exact: false })).toBeVisible();
});

test("the fleet is usable on a phone-sized screen", async ({ page }) => {
  const errors = watchConsole(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/fleet");
  await hydrated(page);
  const firstRow = page.locator("table.fleet tbody tr").first();
  await expect(firstRow).toBeVisible();
  // Rows become cards: no horizontal scrolling needed.
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth > window.innerWidth,
  );
  expect(overflow).toBe(false);
  expect(errors).toEqual([]);
});
