// Writes a check's outcome into the page.
export function report(id, ok, text) {
  const element = document.getElementById(id);
  if (element) {
    element.textContent = text;
    element.dataset.state = ok ? "ok" : "failed";
  }
}

// One line about the fetched site description.
export function describe(site) {
  return `Fetched ${site.name}: ${site.pages.length} pages, deployed by ${site.deployedBy}.`;
}
