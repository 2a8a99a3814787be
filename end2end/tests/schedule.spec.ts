import { test, expect, type Page } from "@playwright/test";
import { hydrated, signIn, watchConsole } from "./helpers";

// Signs `who` in, opens the first device of the fleet view `fleet`: its schedule card.
async function scheduleCard(page: Page, who: "dealer" | "customer", fleet: string) {
  await signIn(page, who, fleet);
  await page.locator("table.fleet tbody tr a").first().click();
  await expect(page).toHaveURL(/\/devices\//);
  await hydrated(page);
  const card = page.locator("section.schedule-card");
  // The form is built in the browser right after hydration (ui::AfterLoad).
  await expect(card.locator("form.schedule-form")).toBeVisible();
  return card;
}

test("a dealer draws a window, saves, sends a command, and sees the simulated device pick up both", async ({
  page,
}) => {
  // The demo's devices post once a minute: the device hears of both at its next post and
  // reports the schedule at the one after.
  test.setTimeout(240_000);
  const errors = watchConsole(page);
  // A reporting demo device (earlier tests register devices that never report).
  const card = await scheduleCard(page, "dealer", "/fleet?status=online");
  await expect(card.getByRole("status").first()).toContainText("In sync: the device runs version 1");

  // Clear the seeded windows, then draw Wednesday 06:00–12:00 on the grid.
  const rows = card.locator("li.window-row");
  while ((await rows.count()) > 0) {
    await rows.first().getByRole("button", { name: /Remove window/ }).click();
  }
  await expect(card.getByText("No windows: the device will not run by schedule.")).toBeVisible();
  const track = card.locator('.week-track[data-day="wed"]');
  await track.scrollIntoViewIfNeeded();
  const box = (await track.boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.25 + 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.4, y, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.5 + 1, y, { steps: 5 });
  await page.mouse.up();
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByLabel("Start")).toHaveValue("06:00");
  await expect(rows.first().getByLabel("End")).toHaveValue("12:00");
  await expect(rows.first().getByLabel("Wed")).toBeChecked();
  await expect(track.locator(".win")).toHaveCount(1);

  // A weekday window by keyboard overlaps it: refused with the reason, until moved.
  await card.getByRole("button", { name: "Add window" }).click();
  await expect(rows).toHaveCount(2);
  await expect(card.getByRole("alert").first()).toContainText("overlaps window 1");
  const save = card.getByRole("button", { name: "Save schedule" });
  await expect(save).toBeDisabled();
  await rows.nth(1).getByLabel("Start").fill("13:00");
  await rows.nth(1).getByLabel("End").fill("15:30");
  await rows.nth(1).getByLabel("Action").selectOption("setpoint");
  await rows.nth(1).getByLabel("Setpoint (%)").fill("70");
  await expect(card.getByRole("alert").first()).toBeEmpty();
  await save.click();

  // "Pending since" the save, in the device's local time and zone.
  await expect(card.getByRole("status").first()).toHaveText(
    /^Pending since \d{4}-\d\d-\d\d \d\d:\d\d \S+: the device gets version 2 at its next post \(it runs version 1\)\.$/,
  );
  await expect(card.getByRole("status").first()).toHaveClass(/sync-pending/);
  await expect(card.locator(".week-track .win")).toHaveCount(6, { timeout: 10_000 });

  // A command too: queued at once, then acknowledged by the device; the card refreshes
  // itself while a command is open.
  const commands = page.locator("section.command-card");
  await commands.getByLabel("Speed (%)").fill("40");
  await commands.getByRole("button", { name: "Set speed" }).click();
  const command = commands.locator("tr.command-row").first();
  await expect(command).toContainText("set the speed to 40 %");
  // (The device may post, run and acknowledge it within a second of the click.)
  await expect(command.locator(".badge")).toHaveText(/queued|delivered|acked/);
  await expect(command.locator(".badge")).toHaveText("acked", { timeout: 150_000 });
  await expect(command.locator('td[data-label="Delivered"]')).toContainText(/\d{4}-\d\d-\d\d/);

  // The demo's device (the real simulator, through the Particle webhook) was told to fetch
  // version 2, fetched it with its token, and reports it: "in sync".
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(card.getByRole("status").first()).toContainText(
      "In sync: the device runs version 2",
      { timeout: 1_000 },
    );
  }).toPass({ timeout: 150_000, intervals: [5_000] });
  await expect(card.locator("ul.next-runs li").first()).toBeVisible();

  // The device's history tells the whole story, newest first.
  const id = decodeURIComponent(page.url().split("/devices/")[1]);
  await page.goto(`/history?device=${encodeURIComponent(id)}&range=1h`);
  await hydrated(page);
  for (const kind of [
    "schedule_changed",
    "command_queued",
    "command_delivered",
    "command_acked",
    "schedule_synced",
  ]) {
    await expect(page.locator(`table.history tbody tr[data-kind="${kind}"]`).first()).toBeVisible();
  }
  await expect(page.locator('tr[data-kind="command_acked"]').first()).toContainText(
    "set the speed to 40 %",
  );
  expect(errors).toEqual([]);
});

test("a customer sees their device's schedule; templates fill the form", async ({ page }) => {
  const errors = watchConsole(page);
  const card = await scheduleCard(page, "customer", "/fleet");
  await card.getByLabel("Template").selectOption("Off-peak only");
  await card.getByRole("button", { name: "Use template" }).click();
  const rows = card.locator("li.window-row");
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByLabel("Start")).toHaveValue("22:00");
  await expect(rows.first().getByLabel("End")).toHaveValue("06:00");
  // Crossing midnight: Monday's window continues into Tuesday, Sunday's into Monday.
  await expect(card.locator('.week-track[data-day="mon"] .win')).toHaveCount(2);
  await card.getByRole("button", { name: "Discard changes" }).click();
  await expect(card.getByRole("button", { name: "Save schedule" })).toBeDisabled();
  expect(errors).toEqual([]);
});

test("a window is moved and resized by mouse, and drawn and moved by finger", async ({ page }) => {
  const errors = watchConsole(page);
  const card = await scheduleCard(page, "dealer", "/fleet?status=online");
  const rows = card.locator("li.window-row");
  while ((await rows.count()) > 0) {
    await rows.first().getByRole("button", { name: /Remove window/ }).click();
  }
  // Where a time of day is along a day's track, in page coordinates.
  const at = async (day: string, hours: number) => {
    const track = card.locator(`.week-track[data-day="${day}"]`);
    await track.scrollIntoViewIfNeeded();
    const box = (await track.boundingBox())!;
    return { x: box.x + (box.width * hours) / 24, y: box.y + box.height / 2 };
  };
  const drag = async (from: { x: number; y: number }, to: { x: number; y: number }) => {
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, to.y, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
  };
  const times = async (row: number, start: string, end: string) => {
    await expect(rows.nth(row).getByLabel("Start")).toHaveValue(start);
    await expect(rows.nth(row).getByLabel("End")).toHaveValue(end);
  };

  // Mouse: draw Thursday 06:00–12:00, move it by 3 hours, drag its end to 18:00 and its
  // start to 07:00, then move it to Friday.
  await drag(await at("thu", 6.05), await at("thu", 12.05));
  await times(0, "06:00", "12:00");
  await drag(await at("thu", 9), await at("thu", 12.05));
  await times(0, "09:00", "15:00");
  const grip = async (edge: "start" | "end") => {
    const g = (await card.locator(`.week-track[data-day="thu"] .grip-${edge}`).boundingBox())!;
    return { x: g.x + g.width / 2, y: g.y + g.height / 2 };
  };
  await drag(await grip("end"), await at("thu", 18.05));
  await times(0, "09:00", "18:00");
  await drag(await grip("start"), await at("thu", 7.05));
  await times(0, "07:00", "18:00");
  await expect(rows.first().getByLabel("Thu")).toBeChecked();
  // Down the week: the window moves to Friday with its times.
  await drag(await at("thu", 12), await at("fri", 12.05));
  await times(0, "07:00", "18:00");
  await expect(rows.first().getByLabel("Fri")).toBeChecked();
  await expect(rows.first().getByLabel("Thu")).not.toBeChecked();

  // Finger (real touch input, as a phone sends it): draw Saturday 06:00–08:00, then move
  // it to 11:00–13:00. The track takes the touch instead of scrolling the page.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 1 });
  const swipe = async (from: { x: number; y: number }, to: { x: number; y: number }) => {
    const point = (p: { x: number; y: number }) => ({ touchPoints: [{ x: p.x, y: p.y }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", ...point(from) });
    for (let i = 1; i <= 6; i++) {
      const p = { x: from.x + ((to.x - from.x) * i) / 6, y: to.y };
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", ...point(p) });
    }
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  };
  await swipe(await at("sat", 6.05), await at("sat", 8.05));
  await expect(rows).toHaveCount(2);
  await times(1, "06:00", "08:00");
  await expect(rows.nth(1).getByLabel("Sat")).toBeChecked();
  await swipe(await at("sat", 7), await at("sat", 12.05));
  await times(1, "11:00", "13:00");
  await expect(card.locator('.week-track[data-day="sat"] .win')).toHaveCount(1);

  await card.getByRole("button", { name: "Discard changes" }).click();
  expect(errors).toEqual([]);
});

test("a dealer previews copying a schedule to another device, then copies it", async ({ page }) => {
  const errors = watchConsole(page);
  // The first test saved a schedule of its own on the first reporting device: copy it to
  // the second.
  await signIn(page, "dealer", "/fleet?status=online");
  const rows = page.locator("table.fleet tbody tr");
  const href = (await rows.nth(1).locator("a").first().getAttribute("href"))!;
  const target = decodeURIComponent(href.split("/devices/")[1]);
  await rows.first().locator("a").first().click();
  await expect(page).toHaveURL(/\/devices\//);
  await hydrated(page);
  const card = page.locator("section.schedule-card");
  await card.getByText("Copy this schedule to other devices").click();
  await card.getByLabel("Or these device ids").fill(target);
  await card.getByRole("button", { name: "Preview" }).click();
  await expect(card.locator("p.copy-summary")).toContainText("1 of 1 device change to:");
  await expect(card.locator("table.copy-targets tbody tr")).toHaveCount(1);
  await expect(card.locator("table.copy-targets tbody tr")).toContainText(target);
  await card.getByRole("button", { name: "Copy to 1 device" }).click();
  await expect(card.getByText("Copied to 1 device: each gets it at its next post.")).toBeVisible();

  // By filter: the devices of one model are the ones the Fleet lists for that model (less
  // the source, if it is one of them).
  const model = card.getByLabel("Model");
  await expect(model.locator("option").nth(1)).toHaveCount(1);
  const chosen = (await model.locator("option").nth(1).getAttribute("value"))!;
  await card.getByLabel("Or these device ids").fill("");
  await model.selectOption(chosen);
  await card.getByRole("button", { name: "Preview" }).click();
  const summary = card.locator("p.copy-summary");
  await expect(summary).toContainText(" change to:");
  const targets = Number((await summary.textContent())!.match(/ of (\d+) devices?/)![1]);
  await expect(card.locator("table.copy-targets tbody tr")).toHaveCount(targets);
  expect(errors).toEqual([]);
  await page.goto(`/fleet?model=${encodeURIComponent(chosen)}`);
  await hydrated(page);
  const count = (await page.getByTestId("fleet-count").textContent())!;
  const [matched, total] = count.match(/\d+/g)!.map(Number);
  expect(matched).toBeLessThan(total);
  expect([matched, matched - 1]).toContain(targets);
});
