import { markReady, mountHeader } from "../shared/layout.js";

mountHeader("explorer");
markReady();
