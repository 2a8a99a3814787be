import { test, expect } from "@playwright/test";
import { hydrated, signIn, watchConsole } from "./helpers";

// Runs first (files run in name order): it adds an org and a user, no devices.

test("an admin creates a customer and invites its user, who sets a password and signs in", async ({
  page,
  browser,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "admin");
  await page.getByRole("link", { name: "Organisations" }).click();
  await expect(page).toHaveURL("/orgs");
  await hydrated(page);
  await page.getByText("New organisation").click();
  // By id: every row's edit form has a "Name" field too.
  await page.locator("#org-name").fill("Sweetwater Ranch");
  await page.locator("#org-kind").selectOption("customer");
  await page.locator("#org-parent").selectOption({ label: "Rocky Mountain Pumps (Dealer)" });
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Created Sweetwater Ranch." })).toBeVisible();
  await expect(page.locator("tr[data-org=sweetwater-ranch]")).toContainText("Customer");

  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Organisations" })).toHaveAttribute("aria-current", "page");
  await page.getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL("/users");
  await hydrated(page);
  // The bar marks the page it is on, after a navigation in the browser too.
  await expect(nav.getByRole("link", { name: "Users" })).toHaveAttribute("aria-current", "page");
  await expect(nav.getByRole("link", { name: "Organisations" })).not.toHaveAttribute("aria-current", "page");
  await page.getByText("Invite a user").click();
  await page.locator("#user-email").fill("sam@sweetwater.example");
  await page.locator("#user-name").fill("Sam Sweetwater");
  await page.locator("#user-persona").selectOption("customer");
  await page.locator("#user-org").selectOption({ label: "Sweetwater Ranch (Customer)" });
  await page.getByRole("button", { name: "Invite" }).click();
  const link = page.getByLabel("Invite link");
  await expect(link).toHaveValue(/\/welcome\?token=[0-9a-f]{40}$/);
  const url = await link.inputValue();
  await expect(page.locator("tr[data-user='sam@sweetwater.example']")).toContainText("invited");

  // Sam, in another browser: the link, a password, then sign in.
  const sam = await (await browser.newContext()).newPage();
  await sam.goto(url);
  await hydrated(sam);
  await sam.getByLabel(/New password/).fill("sweetwater water rights");
  await sam.getByRole("button", { name: "Set password" }).click();
  await expect(sam.getByRole("status")).toContainText("Password set for sam@sweetwater.example");
  await sam.getByRole("link", { name: "Sign in" }).last().click();
  await hydrated(sam);
  await sam.getByLabel("Email").fill("sam@sweetwater.example");
  await sam.getByLabel("Password").fill("sweetwater water rights");
  await sam.getByRole("button", { name: "Sign in" }).click();
  await expect(sam.getByRole("heading", { name: "My devices", level: 1 })).toBeVisible();
  await expect(sam.getByText("No devices yet.")).toBeVisible();
  // The link works once.
  await sam.goto(url);
  await hydrated(sam);
  await sam.getByLabel(/New password/).fill("another long password");
  await sam.getByRole("button", { name: "Set password" }).click();
  await expect(sam.getByRole("alert")).toContainText("not valid any more");

  // All of it is in the audit trail, with its actor.
  await page.getByRole("link", { name: "Audit" }).click();
  await expect(page).toHaveURL("/audit");
  const rows = page.locator("table.audit tbody tr");
  await expect(rows.filter({ hasText: "org_created" })).toContainText("admin@sunfleet.example");
  await expect(rows.filter({ hasText: "user_created" })).toContainText("sam@sweetwater.example");
  await expect(rows.filter({ hasText: "password_set" })).toHaveCount(1);
  await page.getByLabel("Actor").fill("sam@");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/actor=sam%40/);
  await expect(rows).toHaveCount(1);
  expect(errors).toEqual([]);
});

test("a partner creates an API key, sees its secret once, uses it and revokes it", async ({
  page,
}) => {
  const errors = watchConsole(page);
  await signIn(page, "partner");
  // From the partner home.
  await page.getByRole("link", { name: "Manage API keys" }).click();
  await hydrated(page);
  await page.locator("#key-name").fill("ERP sync");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByLabel("New key secret").inputValue();
  expect(secret).toMatch(/^sfk_[0-9a-f]{40}$/);
  const row = page.locator(`tr[data-key='${secret.slice(0, 12)}']`);
  await expect(row).toContainText("ERP sync");

  const call = () =>
    page.request.post("/api/fleet", {
      form: { filter: "" },
      headers: { Authorization: `Bearer ${secret}` },
    });
  expect((await call()).status()).toBe(200);
  await row.getByRole("button", { name: "Revoke ERP sync" }).click();
  await expect(row).toContainText("revoked");
  expect((await call()).status()).toBe(401);
  // The reference for what a key can call is one click away.
  await page.getByRole("link", { name: "API docs" }).first().click();
  await expect(page.getByRole("heading", { name: "HTTP API", level: 1 })).toBeVisible();
  await expect(page.getByText("POST /api/fleet", { exact: true })).toBeVisible();
  expect(errors).toEqual([]);
});

test("a customer has no management pages", async ({ page }) => {
  await signIn(page, "customer");
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);
  const response = await page.goto("/users");
  expect(response?.status()).toBe(403);
});
