/** web/explorer.html in Chromium. */
import { describe, it } from "vitest";
import { expectNoErrors, haveBrowser, openPage } from "./harness.js";

describe.skipIf(!haveBrowser)("web: explorer", () => {
  it("loads without errors", async () => {
    const opened = await openPage("explorer.html");
    try {
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });
});
