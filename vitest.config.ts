import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The playground's modules (web/) import the library as "chainrule", as a user's code does.
  resolve: { alias: [{ find: /^chainrule$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }] },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
