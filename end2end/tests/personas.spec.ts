import { test, expect } from "@playwright/test";
import { DEMO, signIn, watchConsole } from "./helpers";

// What each demo persona should find: its home's heading and the owners of the devices it
// may see (server/src/demo.rs; null: every owner).
const personas: Record<keyof typeof DEMO, { heading: string; owners: string[] | null }> = {
  admin: { heading: "Fleet health across all organisations", owners: null },
  partner: { heading: "Your fleet", owners: ["Desert Sun Agritech"] },
  dealer: {
    heading: "Your customers' devices",
    owners: [
      "Platte Valley Farms",
      "San Luis Potato Co-op",
      "Laramie County Water District",
      "Wind River Cattle Co.",
    ],
  },
  customer: { heading: "My devices", owners: ["Platte Valley Farms"] },
};

for (const who of Object.keys(personas) as (keyof typeof DEMO)[]) {
  test(`the ${who} signs in, lands on its own home and sees only its own devices`, async ({
    page,
  }) => {
    const errors = watchConsole(page);
    const { heading, owners } = personas[who];
    await signIn(page, who);
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();

    const res = await page.request.post("/api/fleet", { form: { filter: "" } });
    expect(res.status()).toBe(200);
    const fleet = await res.json();
    expect(fleet.total).toBeGreaterThan(0);
    if (owners) {
      const seen = [...new Set(fleet.rows.map((r: any) => r.owner))];
      for (const owner of seen) expect(owners).toContain(owner);
      expect(fleet.total).toBeLessThan(240);
    } else {
      // The demo's 240, plus any another test registered.
      expect(fleet.total).toBeGreaterThanOrEqual(240);
    }
    await page.getByRole("link", { name: "Fleet", exact: true }).click();
    await expect(page).toHaveURL("/fleet");
    await expect(page.locator("table.fleet tbody tr")).toHaveCount(Math.min(50, fleet.total));
    expect(errors).toEqual([]);
  });
}

test("signing out ends the session", async ({ page }) => {
  await signIn(page, "dealer");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL("/login");
  await page.goto("/fleet");
  await expect(page).toHaveURL("/login?next=%2Ffleet");
  const res = await page.request.post("/api/fleet", { form: { filter: "" } });
  expect(res.status()).toBe(401);
});

test("a wrong password is refused with a clear message", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill(DEMO.customer.email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("the email or the password is wrong");
  await expect(page).toHaveURL("/login");
});
