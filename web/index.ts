import { markReady, mountHeader } from "./shared/layout.js";

mountHeader("index");
markReady();
