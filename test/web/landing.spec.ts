/** The landing page: links to every page, interactive fast, readable on a phone. */
import { describe, expect, it } from "vitest";
import { expectNoErrors, haveBrowser, openPage, screenshot } from "./harness.js";

describe.skipIf(!haveBrowser)("web: landing page", () => {
  it("links to the four pages and is interactive within 2 s", async () => {
    const opened = await openPage("index.html");
    try {
      const links = await opened.page.$$eval("main .cards a", (as) => as.map((a) => a.getAttribute("href")));
      expect(links).toEqual(["./explorer.html", "./train.html", "./digits.html", "./init.html"]);
      expect(opened.readyAt).toBeLessThan(2000);
      await opened.page.waitForFunction(() => document.querySelector("header .threads")?.textContent !== "");
      expect(await opened.page.textContent("header .threads")).toMatch(/wasm backend · \d+ threads?/);
      await screenshot(opened.page, "index");
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("fits a phone's width without horizontal scrolling", async () => {
    const opened = await openPage("index.html", { viewport: { width: 390, height: 844 }, isolated: false });
    try {
      expect(await opened.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });
});
