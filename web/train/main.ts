import { markReady, mountHeader } from "../shared/layout.js";

mountHeader("train");
markReady();
