import { once } from "node:events";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page, type Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderReport } from "../src/index.js";
import { FIXTURES } from "./helpers.js";
import { HOSTILE_ID, HOSTILE_PROMPT, reportInput } from "./report-fixtures.js";

/**
 * Opens the rendered report in real headless Chromium, offline: every request that is not
 * file: or data: is aborted and recorded, and the tests assert that none was attempted.
 * CI installs Chromium at /usr/bin/chromium; TWEEDIE_CHROMIUM names another binary.
 */
const CHROMIUM = process.env.TWEEDIE_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Written for a person to look at; the tests do not read it back. */
const SCREENSHOT = join(tmpdir(), "tweedie-report.png");

let workDir = "";
let context: BrowserContext;
let page: Page;
const requests: string[] = [];
const blocked: string[] = [];
const dialogs: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set TWEEDIE_CHROMIUM`,
    );
  }
  workDir = await mkdtemp(join(tmpdir(), "tweedie-report-"));
  const linked = "cells/00001 flowdps/output.png";
  await mkdir(join(workDir, "cells", "00001 flowdps"), { recursive: true });
  await copyFile(join(FIXTURES, "astronaut-blurred.png"), join(workDir, linked));
  const reportFile = join(workDir, "report.html");
  await writeFile(reportFile, renderReport(await reportInput(linked)));

  context = await chromium.launchPersistentContext(join(workDir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  await context.route("**/*", offlineRoute);
  context.on("request", (request) => {
    requests.push(request.url());
  });
  page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => {
    consoleErrors.push(error.message);
  });
  await page.goto(pathToFileURL(reportFile).href, { waitUntil: "load" });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (workDir !== "") await rm(workDir, { recursive: true, force: true });
});

function offlineRoute(route: Route): Promise<void> {
  const url = route.request().url();
  if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
  blocked.push(url);
  return route.abort();
}

/**
 * Runs in the page: starts an image load, a fetch and an inline script the policy does
 * not allow, and collects the policy violations for half a second.
 */
function probeLoads(origin: string): Promise<{ violations: string[]; injected: unknown }> {
  const page = globalThis as unknown as {
    document: {
      addEventListener(
        type: string,
        listener: (event: { effectiveDirective: string; blockedURI: string }) => void,
      ): void;
      createElement(tag: string): { src: string; textContent: string };
      body: { appendChild(node: unknown): void };
    };
    injected?: unknown;
    fetch(url: string): Promise<unknown>;
  };
  return new Promise((resolve) => {
    const violations: string[] = [];
    page.document.addEventListener("securitypolicyviolation", (event) => {
      violations.push(`${event.effectiveDirective} ${event.blockedURI}`);
    });
    const image = page.document.createElement("img");
    image.src = `${origin}/probe.png`;
    page.document.body.appendChild(image);
    page.fetch(`${origin}/probe`).catch(() => undefined);
    const script = page.document.createElement("script");
    script.textContent = "globalThis.injected = 1";
    page.document.body.appendChild(script);
    setTimeout(() => resolve({ violations, injected: page.injected ?? null }), 500);
  });
}

async function columnValues(header: RegExp): Promise<(string | null)[]> {
  const index = await page.$$eval(
    "#leaderboard thead th",
    (cells, source) => cells.findIndex((cell) => new RegExp(source).test(cell.textContent ?? "")),
    header.source,
  );
  expect(index, `column ${header}`).toBeGreaterThanOrEqual(0);
  return page.$$eval(
    "#leaderboard tbody tr",
    (rows, column) => rows.map((row) => row.cells[column].getAttribute("data-value")),
    index,
  );
}

describe("HTML report in Chromium", () => {
  it("renders offline without errors", async () => {
    expect(blocked).toEqual([]);
    for (const url of requests) expect(url, url).toMatch(/^(file|data):/);
    expect(requests.some((url) => url.endsWith("report.html"))).toBe(true);
    expect(consoleErrors).toEqual([]);
    expect(await page.title()).toBe("Tweedie report <test>");
  });

  it("sorts the leaderboard on header clicks", async () => {
    const before = (await columnValues(/^psnr@canonical/)).map(Number);
    await page.getByRole("button", { name: /^psnr@canonical/ }).click();
    const ascending = (await columnValues(/^psnr@canonical/)).map(Number);
    expect(ascending).toEqual([...before].sort((a, b) => a - b));
    expect(ascending).not.toEqual(before);
    expect(
      await page.$eval("#leaderboard th[aria-sort]", (cell) => cell.getAttribute("aria-sort")),
    ).toBe("ascending");

    await page.getByRole("button", { name: /^psnr@canonical/ }).click();
    const descending = (await columnValues(/^psnr@canonical/)).map(Number);
    expect(descending).toEqual([...before].sort((a, b) => b - a));
    const solvers = await page.$$eval("#leaderboard tbody tr", (rows) =>
      rows.map((row) => row.cells[2].textContent),
    );
    expect(solvers[0]).toBe("flowdps");
    expect(solvers.at(-1)).toBe("dps");
  });

  it("loads every image, embedded and linked", async () => {
    const images = await page.$$eval("img", (all) =>
      all.map((img) => ({
        kind: (img.getAttribute("src") ?? "").startsWith("data:") ? "data" : "file",
        complete: img.complete,
        width: img.naturalWidth,
      })),
    );
    expect(images).toHaveLength(6);
    expect(images.filter((image) => image.kind === "file")).toHaveLength(1);
    for (const image of images) {
      expect(image.complete).toBe(true);
      expect(image.width).toBe(128);
    }
  });

  it("shows markup in data as text", async () => {
    expect(await page.textContent(".prompt")).toBe(HOSTILE_PROMPT);
    expect(await page.$$(".prompt b")).toHaveLength(0);
    expect(await page.textContent(".item h3")).toBe(HOSTILE_ID);
    expect(await page.$$("script")).toHaveLength(1);
    expect(await page.$$("b")).toHaveLength(0);
    expect(dialogs).toEqual([]);
  });

  it("blocks network loads through its policy", async () => {
    // Loads started after rendering, as injected markup would start them, with request
    // interception off: a server on 127.0.0.1 counts what reaches it.
    const hits: string[] = [];
    const server = createServer((request, response) => {
      hits.push(request.url ?? "");
      response.end("x");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await context.unrouteAll();
    try {
      const outcome = await page.evaluate(probeLoads, origin);
      expect(outcome.injected).toBeNull();
      expect(outcome.violations).toContain(`img-src ${origin}/probe.png`);
      expect(outcome.violations).toContain(`connect-src ${origin}/probe`);
      expect(outcome.violations.some((v) => v.startsWith("script-src"))).toBe(true);
      expect(hits).toEqual([]);
    } finally {
      await context.route("**/*", offlineRoute);
      server.close();
    }
  });

  it("saves a screenshot for inspection", async () => {
    await page.reload({ waitUntil: "load" });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
