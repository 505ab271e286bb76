import { markReady, mountHeader } from "../shared/layout.js";

mountHeader("digits");
markReady();
