/** web/explorer.html: the backprop explorer, configured by the URL (see options.ts). */
import { markReady, mountHeader, $ } from "../shared/layout.js";
import { mountExplorer } from "./explorer.js";
import { optionsFromUrl } from "./options.js";

const options = optionsFromUrl(location.search);
if (options.intro !== false) mountHeader("explorer");
mountExplorer($("main"), options);
markReady();
