import { markReady, mountHeader } from "../shared/layout.js";

mountHeader("init");
markReady();
