// An ES module: a browser runs it only when it is served with a JavaScript Content-Type, and it
// imports another module, which must be online too.
import { describe, report } from "./report.js";

report("script", true, "The module script ran.");

const data = document.getElementById("data");
if (data) {
  const answer = await fetch("/data/site.json");
  const type = answer.headers.get("content-type") ?? "";
  if (answer.ok && type.startsWith("application/json")) {
    report("data", true, describe(await answer.json()));
  } else {
    report("data", false, `The JSON fetch failed: HTTP ${answer.status}, Content-Type "${type}".`);
  }
}

// Tells whoever waits (the browser test) that every check has run.
document.documentElement.dataset.checks = "done";
