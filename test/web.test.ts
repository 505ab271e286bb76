/**
 * The web playground (web/) in Debian's Chromium: one Vite build and one browser for every page's
 * spec (test/web/*.spec.ts). See test/web/harness.ts.
 */
import { afterAll, beforeAll } from "vitest";
import { startSite, stopSite } from "./web/harness.js";
import "./web/landing.spec.js";
import "./web/explorer.spec.js";
import "./web/train.spec.js";
import "./web/digits.spec.js";
import "./web/init.spec.js";

beforeAll(startSite, 180_000);
afterAll(stopSite);
