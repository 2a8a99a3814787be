import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import { hydrated, signIn, watchConsole } from "./helpers";

async function fleetApi(page: Page, filter: string) {
  const res = await page.request.post("/api/fleet", { form: { filter } });
  expect(res.status()).toBe(200);
  return res.json();
}

test("filter and page through the fleet, then export exactly what matches as CSV", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "admin", "/fleet");
  const all = await fleetApi(page, "");
  expect(all.pages).toBeGreaterThan(1);
  const rows = page.locator("table.fleet tbody tr");
  await expect(rows).toHaveCount(50);

  // Paging is in the URL.
  await page.getByRole("link", { name: "Next →" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.getByText(`Page 2 of ${all.pages}`)).toBeVisible();

  // A drop-down filter narrows the list at once, back to page 1, and stays in the URL.
  const model = all.facets.models[0];
  await page.getByLabel("Model").selectOption(model);
  await expect(page).toHaveURL(new RegExp(`model=${encodeURIComponent(model)}`));
  await expect(page).not.toHaveURL(/page=2/);
  const filtered = await fleetApi(page, `model=${encodeURIComponent(model)}`);
  await expect(page.getByTestId("fleet-count")).toHaveText(
    `${filtered.matched} of ${all.total} devices`,
  );
  // Sorting by a column header.
  await page.getByRole("link", { name: "Solar" }).click();
  await expect(page).toHaveURL(/sort=solar/);
  await expect(page.locator("th[aria-sort=ascending]")).toContainText("Solar");

  // A bookmark of this view opens the same devices.
  const url = page.url();
  await page.goto(url);
  await hydrated(page);
  await expect(page.getByTestId("fleet-count")).toHaveText(
    `${filtered.matched} of ${all.total} devices`,
  );

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^sunfleet-devices-\d{8}-\d{4}\.csv$/);
  const csv = fs.readFileSync((await download.path())!, "utf8");
  const lines = csv.trim().split(/\r?\n/);
  expect(lines[0]).toMatch(/^id,name,owner,owner_name,model,firmware,status/);
  expect(lines.length - 1).toBe(filtered.matched);
  for (const line of lines.slice(1)) expect(line).toContain(`,${model},`);
  expect(errors).toEqual([]);
});

test.describe("a dealer in the field", () => {
  test.use({
    geolocation: { latitude: 40.5853, longitude: -105.0844, accuracy: 12 },
    permissions: ["geolocation"],
  });

  test("registers a device, edits it and places it with the browser's position", async ({
    page,
  }) => {
    const errors = watchConsole(page);
    await signIn(page, "dealer", "/fleet");
    await page.getByRole("link", { name: "Register device" }).click();
    await expect(page).toHaveURL("/devices/new");
    await hydrated(page);
    const id = `E2E-${Date.now()}`;
    await page.getByLabel("Device id").fill(id);
    await page.getByLabel("Name").fill("Field test pump");
    await page.getByLabel("Model").fill("SPC-5");
    await page.getByLabel("Firmware").fill("3.0.0");
    await page.getByRole("button", { name: "Register" }).click();
    const notice = page.getByTestId("registered");
    await expect(notice).toContainText(`${id.toUpperCase()}`);
    await expect(page.getByLabel("Ingest token")).toHaveValue(/^sfd_[0-9a-f]{40}$/);

    await notice.getByRole("link", { name: "Open its page" }).click();
    await expect(page).toHaveURL(`/devices/${id.toUpperCase()}`);
    await hydrated(page);
    await expect(page.getByRole("heading", { name: "Field test pump", level: 1 })).toBeVisible();
    await expect(page.getByTestId("location-text")).toHaveText("Not set yet.");

    await page.getByText("Edit details").click();
    await page.locator("#ed-name").fill("Field test pump (north)");
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect(
      page.getByRole("heading", { name: "Field test pump (north)", level: 1 }),
    ).toBeVisible();

    await page.getByRole("button", { name: "Use my location" }).click();
    await expect(page.getByLabel("Latitude")).toHaveValue("40.585300");
    await expect(page.getByLabel("Longitude")).toHaveValue("-105.084400");
    await expect(page.getByText("accurate to about 12 m")).toBeVisible();
    // Nothing is saved until the person confirms.
    await expect(page.getByTestId("location-text")).toHaveText("Not set yet.");
    await page.getByRole("button", { name: "Save location" }).click();
    await expect(page.getByTestId("location-text")).toContainText("40.58530, -105.08440 ±12 m");
    await expect(page.getByTestId("location-text")).toContainText("geolocation");

    // A click on the map (away from the marker and the zoom buttons) moves it there.
    const map = page.getByTestId("location-map");
    const box = (await map.boundingBox())!;
    await map.click({ position: { x: box.width * 0.8, y: box.height * 0.5 } });
    await expect(page.getByText("Position taken from the map")).toBeVisible();
    await expect(page.getByLabel("Latitude")).not.toHaveValue("40.585300");
    await expect(page.getByText("accurate to about")).toHaveCount(0);
    await page.getByRole("button", { name: "Save location" }).click();
    await expect(page.getByTestId("location-text")).toContainText(" · map, by ");
    await expect(page.getByTestId("location-text")).not.toContainText("±");
    expect(errors).toEqual([]);
  });

  test("Near me sorts the fleet by distance from where the dealer stands", async ({ page }) => {
    const errors = watchConsole(page);
    await signIn(page, "dealer", "/fleet");
    await hydrated(page);
    await page.getByRole("button", { name: "Near me" }).click();
    await expect(page).toHaveURL(/near=40\.585\d*(%2C|,)-105\.084/);
    await expect(page).toHaveURL(/sort=distance/);
    const nearest = (await fleetApi(page, "near=40.5853,-105.0844&sort=distance")).rows;
    expect(nearest.length).toBeGreaterThan(1);
    await expect(page.locator("tbody tr[data-device]").first()).toHaveAttribute(
      "data-device",
      nearest[0].id,
    );
    expect(errors).toEqual([]);
  });
});

test.describe("without location permission", () => {
  test.use({ permissions: [] });

  test("geolocation says why it failed and typed coordinates still work", async ({ page }) => {
    await signIn(page, "dealer", "/fleet");
    const first = (await fleetApi(page, "q=laramie+well")).rows[0];
    await page.goto(`/devices/${first.id}`);
    await hydrated(page);
    await page.getByRole("button", { name: "Use my location" }).click();
    await expect(
      page.getByRole("alert").filter({ hasText: /permission was denied.*enter the coordinates/ }),
    ).toBeVisible();
    await page.getByLabel("Latitude").fill("95");
    await page.getByLabel("Longitude").fill("-104.5");
    await page.getByRole("button", { name: "Save location" }).click();
    await expect(page.getByText("latitude must be between -90 and 90 degrees")).toBeVisible();
    await page.getByLabel("Latitude").fill("40.25");
    await page.getByRole("button", { name: "Save location" }).click();
    await expect(page.getByTestId("location-text")).toContainText("40.25000, -104.50000");
    await expect(page.getByTestId("location-text")).toContainText("typed");

    // Near me says the same, and the fleet stays as it was.
    await page.goto("/fleet");
    await hydrated(page);
    await page.getByRole("button", { name: "Near me" }).click();
    await expect(page.getByRole("alert").filter({ hasText: /permission was denied/ })).toBeVisible();
    await expect(page).not.toHaveURL(/near=/);
  });
});

test("a browser that cannot find its position, or takes too long, says so", async ({ page }) => {
  // The browser's own answer, as a phone indoors gives it: position unavailable, then timeout.
  await page.addInitScript(() => {
    let calls = 0;
    navigator.geolocation.getCurrentPosition = (_found, failed) => {
      calls += 1;
      failed!({ code: calls === 1 ? 2 : 3, message: "test" } as GeolocationPositionError);
    };
  });
  await signIn(page, "dealer", "/fleet");
  const first = (await fleetApi(page, "q=laramie+well")).rows[0];
  await page.goto(`/devices/${first.id}`);
  await hydrated(page);
  await page.getByRole("button", { name: "Use my location" }).click();
  await expect(
    page.getByRole("alert").filter({ hasText: "could not find its location; enter the coordinates" }),
  ).toBeVisible();
  await page.getByRole("button", { name: "Use my location" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "took too long" })).toBeVisible();
  await page.getByLabel("Latitude").fill("40.75");
  await page.getByLabel("Longitude").fill("-104.25");
  await page.getByRole("button", { name: "Save location" }).click();
  await expect(page.getByTestId("location-text")).toContainText("40.75000, -104.25000");
});

test("a CSV import previews every row, skips the bad one and imports the rest", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "admin", "/devices/import");
  const stamp = Date.now();
  const csv = [
    "id,name,model,owner,timezone,lat,lon",
    `IMP-${stamp}-1,Imported one,SPC-5,platte-valley-farms,America/Denver,40.1,-104.2`,
    `IMP-${stamp}-2,Imported two,SPC-5,platte-valley-farms,America/Denver,,`,
    `IMP-${stamp}-3,Imported badly,SPC-5,platte-valley-farms,America/Denver,123,0`,
  ].join("\n");
  await page.getByLabel("…or paste it here").fill(csv);
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.getByTestId("import-preview");
  await expect(preview).toContainText("2 new, 0 to update, 0 unchanged, 1 with errors");
  await expect(page.locator("tr[data-action=error]")).toContainText("latitude");
  await page.getByRole("button", { name: "Import 2 rows" }).click();
  await expect(page.getByTestId("import-done")).toContainText("2 new");

  const imported = await fleetApi(page, `q=imp-${stamp}`);
  expect(imported.rows.map((r: any) => r.name).sort()).toEqual(["Imported one", "Imported two"]);
  expect(errors).toEqual([]);
});

test("the map shows every matching device, and a popup leads to the device", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "customer", "/fleet");
  const mine = await fleetApi(page, "");
  const placed = await (await page.request.post("/api/fleet_map", { form: { filter: "" } })).json();
  expect(placed.points.length + placed.unplaced).toBe(mine.matched);
  await page.getByRole("button", { name: "Show map" }).click();
  const map = page.getByTestId("fleet-map");
  await expect(map).toHaveAttribute("data-markers", String(placed.points.length));
  await expect(page.getByTestId("map-count")).toContainText(
    `${placed.points.length} devices on the map`,
  );

  // Filter the list: the map follows.
  const one = placed.points[0];
  await page.getByLabel("Search").fill(one.id);
  await expect(map).toHaveAttribute("data-markers", "1");
  const popup = page.locator(".leaflet-popup-content");
  // The map zooms to the one marker, and the cluster layer redraws its markers when the
  // zoom ends: a click on the marker drawn before that lands on a removed element (seen
  // once in 29 runs on a loaded machine). A person clicks again; so does the test.
  await expect(async () => {
    await page.locator(".leaflet-marker-icon").first().click();
    await expect(popup).toContainText(one.name, { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
  await popup.getByRole("link", { name: "Open device" }).click();
  await expect(page).toHaveURL(`/devices/${one.id}`);
  expect(errors).toEqual([]);
});
