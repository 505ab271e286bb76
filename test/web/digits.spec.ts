/** web/digits.html in Chromium. */
import { describe, it } from "vitest";
import { expectNoErrors, haveBrowser, openPage } from "./harness.js";

describe.skipIf(!haveBrowser)("web: digits", () => {
  it("loads without errors", async () => {
    const opened = await openPage("digits.html");
    try {
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });
});
