/** web/train.html in Chromium. */
import { describe, it } from "vitest";
import { expectNoErrors, haveBrowser, openPage } from "./harness.js";

describe.skipIf(!haveBrowser)("web: train", () => {
  it("loads without errors", async () => {
    const opened = await openPage("train.html");
    try {
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });
});
