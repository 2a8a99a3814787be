import { expect, Page } from "@playwright/test";

// The demo's sign-ins (server/src/demo.rs DEMO_USERS, listed in the README).
export const DEMO = {
  admin: { email: "admin@sunfleet.example", password: "demo-admin-password" },
  partner: { email: "partner@sunfleet.example", password: "demo-partner-password" },
  dealer: { email: "dealer@sunfleet.example", password: "demo-dealer-password" },
  customer: { email: "customer@sunfleet.example", password: "demo-customer-password" },
};

export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

// Every console error or uncaught exception fails the test that caused it.
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    // Map tiles come from the internet (OpenStreetMap by default), which this machine
    // cannot reach; the map is built to work without them.
    if (msg.type() === "error" && !/tile\.openstreetmap\.org/.test(msg.location().url)) {
      errors.push(msg.text());
    }
  });
  page.on("pageerror", (err) => errors.push(String(err)));
  return errors;
}

// Signs in through the sign-in page, as a person would, and waits for the page `next`.
export async function signIn(page: Page, who: keyof typeof DEMO, next = "/") {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await hydrated(page);
  await page.getByLabel("Email").fill(DEMO[who].email);
  await page.getByLabel("Password").fill(DEMO[who].password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(next);
  await hydrated(page);
}
