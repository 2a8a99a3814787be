import { test, expect, Page } from "@playwright/test";
import { DEMO, hydrated, signIn, watchConsole } from "./helpers";

// The server renders typed views and the browser hydrates erased ones; the server's HTML
// carries the erased build's markers (third_party/tachys/PATCHED.md). A missing or extra
// marker anywhere makes hydration fail on that page, so every page is opened here, for
// every persona and signed out, and must come alive without a console error.
const pages = [
  "/",
  "/fleet",
  "/fleet?status=offline&sort=name&dir=desc",
  "/charts",
  "/charts?range=7d",
  "/history",
  "/history?kind=faults&range=30d",
  "/account",
  "/orgs",
  "/users",
  "/keys",
  "/audit",
  "/api-docs",
  "/devices/new",
  "/devices/import",
];

// Opens a page and waits until it is live. A page a persona may not see answers 403 or
// 404, which the browser reports as a console error of its own; any other error fails.
async function opens(page: Page, path: string, errors: string[]) {
  const res = await page.goto(path);
  const status = res?.status() ?? 0;
  expect([200, 403, 404], `status of ${path}`).toContain(status);
  await hydrated(page);
  const own = `the server responded with a status of ${status}`;
  const others = errors.splice(0).filter((e) => status === 200 || !e.includes(own));
  expect(others, `console errors on ${path}`).toEqual([]);
}

for (const who of Object.keys(DEMO) as (keyof typeof DEMO)[]) {
  test(`every page hydrates for the ${who}`, async ({ page }) => {
    const errors = watchConsole(page);
    await signIn(page, who);
    const res = await page.request.post("/api/fleet", { form: { filter: "" } });
    expect(res.status()).toBe(200);
    const device = (await res.json()).rows[0].id;
    for (const path of [...pages, `/devices/${device}`]) await opens(page, path, errors);
  });
}

test("every page hydrates signed out", async ({ page }) => {
  const errors = watchConsole(page);
  for (const path of ["/login", "/welcome", "/fleet", "/devices/new"]) {
    await opens(page, path, errors);
  }
});

test("the not-found pages hydrate", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, "admin");
  for (const path of ["/no-such-page", "/devices/e00fce68ffffffffffffffff"]) {
    await opens(page, path, errors);
  }
});
