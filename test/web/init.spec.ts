/** web/init.html in Chromium. */
import { describe, it } from "vitest";
import { expectNoErrors, haveBrowser, openPage } from "./harness.js";

describe.skipIf(!haveBrowser)("web: init", () => {
  it("loads without errors", async () => {
    const opened = await openPage("init.html");
    try {
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });
});
